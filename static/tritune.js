// Enter in the query box submits the form; Shift+Enter (or an IME composition) adds a line.
document.addEventListener("keydown", (event) => {
  const box = event.target;
  if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
  if (!(box instanceof HTMLTextAreaElement) || box.name !== "query") return;
  event.preventDefault();
  box.form.requestSubmit();
});

// A live comparison keeps the compare button busy until its stream closes.
function setCompareBusy(busy) {
  const button = document.querySelector("form.compare button[type=submit]");
  if (!button) return;
  button.disabled = busy;
  button.classList.toggle("htmx-request", busy);
}
document.addEventListener("htmx:sseOpen", () => setCompareBusy(true));
document.addEventListener("htmx:sseClose", () => setCompareBusy(false));
