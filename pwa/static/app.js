// Enhances the server-rendered pages; every page works without it.
//
// The service worker keeps this phone's offline copy; this bridge passes its news on as
// window events other modules listen to (detail is the worker's message):
//   fieldguide:progress  {release, done, total}  saving a release for offline use
//   fieldguide:release   {number, previous, etag, summary, due_at, requires_ack}  a newer
//                        release is now saved whole on this phone
//   fieldguide:synced    {result, release, checked_at}  a check ended: current, updated,
//                        offline, signed-out or error
// and window.fieldguide.sync(reason) asks the worker to check for a newer release now.
const SYNC_EVERY_MS = 5 * 60 * 1000;

async function askWorker(message) {
  const registration = await navigator.serviceWorker.getRegistration("/");
  if (registration && registration.active) registration.active.postMessage(message);
}

function sync(reason = "page") {
  if ("serviceWorker" in navigator) askWorker({ type: "sync", reason }).catch(() => {});
}

window.fieldguide = { sync };

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.addEventListener("message", (event) => {
    const data = event.data;
    if (data && ["progress", "release", "synced"].includes(data.type)) {
      window.dispatchEvent(new CustomEvent(`fieldguide:${data.type}`, { detail: data }));
    }
  });
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(() => sync("start"), () => {});
  // Ask the browser not to evict the offline copy under storage pressure (granted or not).
  if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => {});
  window.addEventListener("online", () => sync("online"));
  // The page may hear "online" before the network works for the worker: try again a few times.
  let retries = 0;
  window.addEventListener("fieldguide:synced", ({ detail }) => {
    if (detail.result !== "offline") retries = 0;
    else if (navigator.onLine && retries < 5) {
      retries += 1;
      setTimeout(() => sync("retry"), 1000 * 2 ** retries);
    }
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") sync("focus");
  });
  setInterval(() => {
    if (document.visibilityState === "visible") sync("interval");
  }, SYNC_EVERY_MS);
}

// Copy buttons (admin invitation links): shown only where the clipboard can be used.
for (const button of document.querySelectorAll("[data-copy]")) {
  const field = document.getElementById(button.dataset.copy);
  const status = button.parentElement.querySelector("[data-copy-status]");
  if (!field || !navigator.clipboard) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(field.value);
      if (status) status.textContent = "Copied. Paste it into a message to the person.";
    } catch {
      field.select();
      if (status) status.textContent = "Could not copy: the link is selected, copy it by hand.";
    }
  });
}

// Home: a category the officer opens near the bottom of the screen scrolls just enough to
// show its cards above the tab bar (without JavaScript it opens in place all the same).
for (const category of document.querySelectorAll("details.category")) {
  category.addEventListener("toggle", () => {
    if (!category.open) return;
    const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    category.scrollIntoView({ block: "nearest", behavior: still ? "auto" : "smooth" });
  });
}
