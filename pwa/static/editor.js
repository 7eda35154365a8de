// Live preview for the card editor: sends the form to the server's sanitizing renderer
// a moment after typing stops. Without this module the "Preview" button does the same.
const DELAY_MS = 400;

const form = document.querySelector("form[data-preview-url]");
const target = form && document.getElementById(form.dataset.previewTarget);

if (form && target) {
  let timer = 0;
  let sent = 0;

  const refresh = async () => {
    const mine = ++sent;
    const body = new FormData(form);
    body.delete("op");
    try {
      const response = await fetch(form.dataset.previewUrl, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
      // Answers can arrive out of order: only the newest request may paint.
      if (!response.ok || mine !== sent) return;
      target.innerHTML = await response.text();
      target.dataset.state = "live";
    } catch {
      target.dataset.state = "offline";
    }
  };

  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, DELAY_MS);
  });
  refresh();
}
