// The admin UI's only script of its own: a broken request never leaves a
// blank swap or nothing at all; it says what went wrong in the flash area.
(() => {
  const flash = (text) => {
    const box = document.getElementById("flash");
    if (!box) return;
    box.textContent = "";
    const p = document.createElement("p");
    p.className = "alert";
    p.setAttribute("role", "alert");
    p.textContent = text;
    box.append(p);
  };
  // Network failures and timeouts: htmx has no response to swap.
  document.addEventListener("htmx:error", (e) => {
    const status = e.detail?.ctx?.response?.status;
    if (!status) flash("flue did not answer; check that it is running, then try again.");
  });
  // Times shown relative to now, refreshed while the page stays open.
  const units = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
  const fmt = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const relative = () => {
    for (const t of document.querySelectorAll("time[data-relative]")) {
      const diff = (Date.parse(t.getAttribute("datetime")) - Date.now()) / 1000;
      const [unit, size] = units.find(([, s]) => Math.abs(diff) >= s) ?? units[3];
      t.textContent = fmt.format(Math.round(diff / size), unit);
    }
  };
  document.addEventListener("htmx:after:swap", relative);
  document.addEventListener("DOMContentLoaded", relative);
  setInterval(relative, 15000);
})();
