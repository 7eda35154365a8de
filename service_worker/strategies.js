// Fetch strategies of the service worker (loaded by sw.js with importScripts).
// Sets self.fieldguideStrategies; everything else stays inside this function.
(() => {
  /** The network's answer, or a rejection after ms milliseconds (the request goes on). */
  function withTimeout(request, ms) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("network timeout")), ms);
      fetch(request).then(
        (response) => { clearTimeout(timer); resolve(response); },
        (error) => { clearTimeout(timer); reject(error); },
      );
    });
  }

  /** The cached answer; the network only for what is not cached (and it is not kept). */
  async function cacheFirst(cacheName, request) {
    const cached = await (await caches.open(cacheName)).match(request);
    return cached || fetch(request);
  }

  /** The network's answer (kept for next time); the cached one when it fails or is slow. */
  async function networkFirst(cacheName, request, { timeout = 2500, matchOptions } = {}) {
    const cache = await caches.open(cacheName);
    try {
      const response = await withTimeout(request, timeout);
      if (response.ok) await cache.put(request, response.clone());
      return response;
    } catch (error) {
      const cached = await cache.match(request, matchOptions);
      if (cached) return cached;
      throw error;
    }
  }

  self.fieldguideStrategies = { withTimeout, cacheFirst, networkFirst };
})();
