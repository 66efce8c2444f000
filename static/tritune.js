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

// CSRF (app/auth): every form posted carries the page's token, including forms that htmx
// swapped in later; htmx requests send it as a header (hx-headers on <body>).
function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || (form.method || "get").toLowerCase() !== "post") return;
  let field = form.querySelector('input[name="csrf_token"]');
  if (!field) {
    field = document.createElement("input");
    field.type = "hidden";
    field.name = "csrf_token";
    form.appendChild(field);
  }
  field.value = csrfToken();
}, true);
document.addEventListener("htmx:configRequest", (event) => {
  event.detail.headers["X-CSRF-Token"] = csrfToken();
});
