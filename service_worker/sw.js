// Service worker: keeps the app usable with no signal. Listeners and routing only; each part
// below does one job. A part is service_worker/NAME.js, served as /sw/NAME.js (the two from
// /static are shared with the pages).
//
// The parts share one namespace, self.fieldguide, made here and nowhere else: a part adds what
// it offers under the name given below and uses only what the parts above it added. Nothing
// else passes between them. To add a part, put it in PARTS after the parts it uses.
self.fieldguide = {};
const PARTS = [
  "/static/db.js", // db: the IndexedDB helper
  "/static/ack-outbox.js", // acks: the outbox of acknowledgments and check answers; uses db
  "/sw/strategies.js", // strategies: fetch strategies
  "/sw/offline-copy.js", // offline: the shell and one whole release, kept current by sync(); uses db
  "/sw/compose.js", // compose: offline pages; uses offline
  "/sw/receipts.js", // receipts: notices shown, reported to the server; uses db
  "/sw/push.js", // (listeners only) Web Push notices; uses db, offline, receipts
  "/sw/ack-sync.js", // (listeners only) Background Sync of acknowledgments; uses acks
  "/sw/receipt-sync.js", // (listeners only) sending waiting receipts; uses receipts
];
importScripts(...PARTS);

(() => {
  // A slow hallway network gets this long before the saved copy is shown instead.
  const NAVIGATION_TIMEOUT_MS = 2500;
  const { strategies, offline, compose } = self.fieldguide;

  self.addEventListener("install", (event) => {
    self.skipWaiting();
    // Saving the release is retried on the next start, focus or reconnect if it fails now.
    event.waitUntil(offline.sync("install"));
  });

  self.addEventListener("activate", (event) => {
    event.waitUntil((async () => {
      await offline.deleteOldCaches();
      await self.clients.claim();
    })());
  });

  self.addEventListener("message", (event) => {
    const data = event.data || {};
    if (data.type === "sync") event.waitUntil(offline.sync(data.reason));
    else if (data.type === "forget") event.waitUntil(offline.forget());
  });

  async function navigate(request, url) {
    let response = null;
    try {
      response = await strategies.withTimeout(request, NAVIGATION_TIMEOUT_MS);
      if (response.status < 500) return response;
    } catch {
      // Offline or slow: the saved copy below.
    }
    return (await compose.page(url)) || response || compose.unsaved();
  }

  // Signing out leaves no guidance, name or token on the phone for the next person.
  async function signOut(request, url) {
    try {
      const response = await fetch(request);
      if (response.type === "opaqueredirect") await offline.forget();
      return response;
    } catch {
      return (await compose.page(url)) || compose.unsaved();
    }
  }

  self.addEventListener("fetch", (event) => {
    const { request } = event;
    const url = new URL(request.url);
    if (url.origin !== self.location.origin) return;
    if (request.method === "POST" && request.mode === "navigate" && url.pathname === "/sign-out") {
      event.respondWith(signOut(request, url));
      return;
    }
    if (request.method !== "GET") return;
    if (request.mode === "navigate") {
      event.respondWith(navigate(request, url));
    } else if (url.pathname.startsWith("/static/")) {
      // The shell's files are saved under their hashed URLs (offline-copy.js). A module's
      // relative import asks for a file without its hash: the network, else the saved copy.
      event.respondWith(
        url.searchParams.has("v")
          ? strategies.cacheFirst(offline.SHELL_CACHE, request)
          : strategies.networkFirst(offline.SHELL_CACHE, request, { matchOptions: { ignoreSearch: true } }),
      );
    } else if (offline.isCardUrl(url.pathname)) {
      event.respondWith(strategies.cacheFirst(offline.CARDS_CACHE, request));
    }
  });
})();
