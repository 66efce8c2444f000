// Knowledge-base upload: files dropped on the zone are uploaded at once; the bar follows
// the upload (htmx's xhr progress events), then the server's report replaces it.
(() => {
  const form = document.getElementById("upload");
  if (!form) return;
  const zone = document.getElementById("dropzone");
  const input = form.querySelector('input[type="file"]');
  const bar = document.getElementById("upload-progress");
  ["dragenter", "dragover"].forEach((name) =>
    zone.addEventListener(name, (event) => { event.preventDefault(); zone.classList.add("over"); }));
  ["dragleave", "drop"].forEach((name) =>
    zone.addEventListener(name, () => zone.classList.remove("over")));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    input.files = event.dataTransfer.files;
    form.requestSubmit();
  });
  form.addEventListener("htmx:xhr:progress", (event) => {
    if (event.detail.lengthComputable) bar.value = (100 * event.detail.loaded) / event.detail.total;
  });
  form.addEventListener("htmx:afterRequest", () => { bar.value = 100; input.value = ""; });
  form.addEventListener("htmx:beforeRequest", () => { bar.value = 0; });
})();
