// Fetch strategies of the service worker. A part (see PARTS in sw.js): adds fieldguide.strategies.
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

  /**
   * The network's answer; the cached one when it fails or is slow. Nothing is kept: the cache
   * is filled by the part that owns it, so it holds exactly what that part decided.
   */
  async function networkFirst(cacheName, request, { timeout = 2500, matchOptions } = {}) {
    try {
      return await withTimeout(request, timeout);
    } catch (error) {
      const cached = await (await caches.open(cacheName)).match(request, matchOptions);
      if (cached) return cached;
      throw error;
    }
  }

  self.fieldguide.strategies = { withTimeout, cacheFirst, networkFirst };
})();
