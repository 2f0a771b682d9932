// Behaviour of the admin pages: the live event list (status, pause, a
// capped length) and copying a new token's secret. No inline scripts: the
// Content-Security-Policy allows only flue's own files.
(() => {
  const rows = () => document.getElementById("event-rows");
  const status = (text) => {
    const s = document.getElementById("events-status");
    if (s) s.textContent = text;
  };
  let paused = false;
  let held = 0;

  const pauseButton = () => document.getElementById("events-pause");
  const showPause = () => {
    const b = pauseButton();
    if (!b) return;
    b.setAttribute("aria-pressed", String(paused));
    b.textContent = paused ? (held ? `Resume (${held} new)` : "Resume") : "Pause";
  };

  // New rows arrive at the top; while paused they are held back, hidden, and shown on resume.
  const settle = () => {
    const body = rows();
    if (!body) return;
    for (const tr of body.querySelectorAll("tr.event:not([data-seen])")) {
      tr.dataset.seen = "1";
      if (paused) {
        tr.hidden = true;
        held++;
      }
    }
    const max = Number(body.dataset.maxRows || 200);
    const all = body.querySelectorAll("tr.event");
    for (let i = max; i < all.length; i++) all[i].remove();
    showPause();
  };

  document.addEventListener("htmx:sse:after:message", (e) => {
    if (e.target === rows()) settle();
  });
  document.addEventListener("ready", (e) => {
    if (e.target === rows()) status("Live");
  });
  document.addEventListener("htmx:sse:error", (e) => {
    if (e.target === rows()) status("Connection lost; reconnecting…");
  });
  document.addEventListener("htmx:sse:close", (e) => {
    if (e.target === rows()) status("Disconnected");
  });

  document.addEventListener("click", (e) => {
    const target = e.target instanceof Element ? e.target : null;
    if (!target) return;
    if (target.closest("#events-pause")) {
      paused = !paused;
      if (!paused) {
        for (const tr of rows()?.querySelectorAll("tr.event[hidden]") ?? []) tr.hidden = false;
        held = 0;
      }
      status(paused ? "Paused" : "Live");
      showPause();
      return;
    }
    const copy = target.closest("[data-copy]");
    if (copy) {
      const source = document.querySelector(copy.getAttribute("data-copy"));
      if (!source) return;
      const text = source.textContent.trim();
      const done = () => (copy.textContent = "Copied");
      const select = () => {
        const range = document.createRange();
        range.selectNodeContents(source);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        copy.textContent = "Selected: press Ctrl+C";
      };
      if (navigator.clipboard) navigator.clipboard.writeText(text).then(done, select);
      else select();
    }
  });
})();
