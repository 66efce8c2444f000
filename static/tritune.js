// Enter in the query box submits the form; Shift+Enter (or an IME composition) adds a line.
document.addEventListener("keydown", (event) => {
  const box = event.target;
  if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
  if (!(box instanceof HTMLTextAreaElement) || box.name !== "query") return;
  event.preventDefault();
  box.form.requestSubmit();
});
