// Behaviour of the jobs pages: a live log tail that stays scrolled to its end
// while the reader is there (and stays put when they scrolled up to read).
(() => {
  const atEnd = new WeakMap();
  document.addEventListener("htmx:before:swap", () => {
    for (const pre of document.querySelectorAll("pre.log-tail")) {
      atEnd.set(pre, pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24);
    }
  });
  document.addEventListener("htmx:after:swap", () => {
    for (const pre of document.querySelectorAll("pre.log-tail")) {
      if (atEnd.get(pre) !== false) pre.scrollTop = pre.scrollHeight;
    }
  });
})();
