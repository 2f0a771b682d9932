// Behaviour of the definitions pages: when a form comes back with errors,
// the first field in error takes the focus, so a keyboard user lands on it.
(() => {
  document.addEventListener("htmx:after:swap", () => {
    const bad = document.querySelector("#definition-form [aria-invalid=true], #run-form [aria-invalid=true]");
    if (bad && (document.activeElement === document.body || document.activeElement === null)) bad.focus();
  });
})();
