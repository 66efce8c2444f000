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

// An example query goes into the query box with one click.
document.addEventListener("click", (event) => {
  const example = event.target.closest && event.target.closest("button.example-query");
  if (!example) return;
  const box = document.querySelector("form.compare textarea[name=query]");
  if (!box) return;
  box.value = example.dataset.query;
  box.focus();
});

// Each live column's clock: the seconds its stage had lasted when the server said so
// (data-seconds), plus the time since, until the stage is a final one.
const FINAL_STAGES = new Set(["done", "failed", "cancelled"]);
function tickLiveColumns() {
  const now = performance.now();
  for (const stage of document.querySelectorAll(".live-comparison [data-stage]")) {
    if (!stage.dataset.seenAt) stage.dataset.seenAt = String(now);
    let seconds = parseFloat(stage.dataset.seconds || "0");
    if (!FINAL_STAGES.has(stage.dataset.stage)) seconds += (now - parseFloat(stage.dataset.seenAt)) / 1000;
    const elapsed = stage.closest("section").querySelector(".elapsed");
    if (elapsed) elapsed.textContent = `${seconds.toFixed(1)} s`;
  }
}
setInterval(tickLiveColumns, 100);

// A comparison a live view has just stored gets its own address (/comparisons/N), so that
// reloading or sharing the page shows it. On a comparison's page (Run again, an edited level)
// the page becomes the new comparison's, heading and buttons included.
new MutationObserver(() => {
  const stored = document.querySelector("article.comparison[data-push-url]");
  if (!stored) return;
  const url = stored.dataset.pushUrl;
  stored.removeAttribute("data-push-url");
  if (location.pathname === url) return;
  if (document.querySelector("[data-comparison-page]")) location.assign(url);
  else history.pushState({tritune: true}, "", url);
}).observe(document.documentElement, {subtree: true, childList: true});
// Going back past such an address shows that page as the server renders it (htmx restores
// only the entries it pushed itself).
window.addEventListener("popstate", (event) => {
  if (!(event.state && event.state.htmx)) location.reload();
});

// The fine-tune page's estimated training time follows the dataset, epochs and max examples:
// examples × epochs ÷ the examples/s the newest adapter measured (none: no estimate).
function trainingEstimate(form) {
  const out = document.getElementById("training-estimate");
  if (!out || !out.dataset.examplesPerS) return;
  const option = form.querySelector("select[name=dataset_id]").selectedOptions[0];
  const epochs = parseInt(form.querySelector("[name=cfg_num_epochs]").value || "1", 10);
  const cap = parseInt(form.querySelector("[name=cfg_max_examples]").value || "0", 10);
  let examples = parseInt(option ? option.dataset.trainExamples : "0", 10);
  if (cap > 0) examples = Math.min(examples, cap);
  const rate = parseFloat(out.dataset.examplesPerS);
  const seconds = (examples * Math.max(epochs, 1)) / rate;
  const time = seconds < 90 ? `${Math.max(Math.round(seconds), 1)} s`
    : seconds < 5400 ? `${Math.round(seconds / 60)} min` : `${(seconds / 3600).toFixed(1)} h`;
  const per = epochs === 1 ? "epoch" : "epochs";
  out.querySelector(".estimate-text").textContent =
    `about ${time} (${examples.toLocaleString("en")} examples × ${epochs} ${per} at ${rate} examples/s, as ${out.dataset.measuredBy} trained)`;
}
document.addEventListener("input", (event) => {
  const form = event.target.closest && event.target.closest("form.train");
  if (form) trainingEstimate(form);
});
document.addEventListener("change", (event) => {
  const form = event.target.closest && event.target.closest("form.train");
  if (form) trainingEstimate(form);
});

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
