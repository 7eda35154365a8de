// The offline copy: the app shell and exactly one complete release of the officer's guidance,
// kept current with the delta sync described in docs/sync.md.
//
// The shell is the page frame (/shell) and every static file it loads, which the server lists
// with their hashed URLs in /sw/assets.json (from its asset table; the list's ETag changes
// with any file). Files no longer listed are deleted.
// Card bodies live in the cards cache under their API URL (/api/v1/cards/HASH); a hash names
// one exact text, so a card unchanged between releases is never fetched twice. The release
// itself (manifest, page fragments and search index) is one record in IndexedDB "meta" under
// "release", so offline search needs nothing else.
// It is replaced only after every card of the new release is cached, then the cards no longer
// named are deleted: the device holds one whole release, never a mix.
// A part (see PARTS in sw.js): uses fieldguide.db, adds fieldguide.offline.
(() => {
  const { db } = self.fieldguide;
  const SHELL_CACHE = "fieldguide-shell-v1";
  const CARDS_CACHE = "fieldguide-cards-v1";
  const OWN_PREFIXES = ["fieldguide-shell-", "fieldguide-cards-"];
  const SHELL_URL = "/shell";
  const ASSETS_URL = "/sw/assets.json";
  const SYNC_URL = "/api/v1/sync";
  const CARD_PATH = /^\/api\/v1\/cards\/[0-9a-f]{64}$/;
  const RELEASE_KEY = "release";
  const CHECKED_KEY = "checked";
  // Page starts and focus within this time of the last check are folded into it.
  const MIN_CHECK_GAP_MS = 30 * 1000;
  const QUIET_REASONS = new Set(["start", "focus", "interval"]);

  const cardUrl = (hash) => `/api/v1/cards/${hash}`;
  let memo = null;
  let running = null;
  let lastCheck = 0;

  async function broadcast(message) {
    const clients = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    for (const client of clients) client.postMessage(message);
  }

  /** The one complete release on this device ({number, etag, cards, pages, ...}) or null. */
  async function currentRelease() {
    if (!memo) memo = (await db.get("meta", RELEASE_KEY)) || null;
    return memo;
  }

  /** The cached shell page, or undefined. */
  async function shell() {
    return (await caches.open(SHELL_CACHE)).match(SHELL_URL);
  }

  /** A cached card's article HTML, or null when the card is not on this device. */
  async function article(hash) {
    const response = await (await caches.open(CARDS_CACHE)).match(cardUrl(hash));
    return response ? (await response.json()).article : null;
  }

  const cacheKey = (request) => {
    const url = new URL(request.url);
    return url.pathname + url.search;
  };

  // The server's answer to url when it differs from the cached copy's ETag, or null (304).
  async function fetchIfChanged(cache, url) {
    const cached = await cache.match(url);
    const headers = {};
    if (cached && cached.headers.get("ETag")) headers["If-None-Match"] = cached.headers.get("ETag");
    const response = await fetch(url, { headers, cache: "no-store", redirect: "manual" });
    if (response.status === 304 && cached) return null;
    if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
    return response;
  }

  // The shell page and every file of the server's list in the cache, and nothing else. A hashed
  // URL names one exact file, so only files not cached yet are fetched; the new shell and list
  // are kept only once every file they need is.
  async function refreshShell() {
    const cache = await caches.open(SHELL_CACHE);
    const shellPage = await fetchIfChanged(cache, SHELL_URL);
    const list = await fetchIfChanged(cache, ASSETS_URL);
    const { assets } = await (list ? list.clone() : await cache.match(ASSETS_URL)).json();
    const cached = new Set((await cache.keys()).map(cacheKey));
    for (const url of assets) {
      if (cached.has(url)) continue;
      const response = await fetch(url);
      if (!response.ok) throw new Error(`${url} answered ${response.status}`);
      await cache.put(url, response);
    }
    if (shellPage) await cache.put(SHELL_URL, shellPage);
    if (list) await cache.put(ASSETS_URL, list);
    const keep = new Set([SHELL_URL, ASSETS_URL, ...assets]);
    for (const request of await cache.keys()) {
      if (!keep.has(cacheKey(request))) await cache.delete(request);
    }
  }

  // Every card of a release in the cards cache: from the sync answer, else fetched by hash.
  // Also repairs a copy the browser partly evicted. Progress goes to the pages.
  async function saveCards(release, cards, bodies = []) {
    const cache = await caches.open(CARDS_CACHE);
    const sent = new Map(bodies.map((card) => [card.hash, card]));
    const missing = [];
    for (const entry of cards) {
      if (!(await cache.match(cardUrl(entry.hash)))) missing.push(entry);
    }
    if (!missing.length) return;
    const total = cards.length;
    let done = total - missing.length;
    await broadcast({ type: "progress", release, done, total });
    for (const entry of missing) {
      const url = cardUrl(entry.hash);
      const card = sent.get(entry.hash);
      if (card) {
        const headers = { "Content-Type": "application/json" };
        await cache.put(url, new Response(JSON.stringify(card), { headers }));
      } else {
        const response = await fetch(url);
        if (!response.ok) throw new Error(`card ${entry.id} answered ${response.status}`);
        await cache.put(url, response);
      }
      done += 1;
      await broadcast({ type: "progress", release, done, total });
    }
  }

  async function pruneCards(record) {
    const cache = await caches.open(CARDS_CACHE);
    const keep = new Set(record.cards.map((c) => cardUrl(c.hash)));
    for (const request of await cache.keys()) {
      if (!keep.has(new URL(request.url).pathname)) await cache.delete(request);
    }
  }

  // The pages of the new release: those sent, and those kept from the release held.
  function mergePages(body, held) {
    const pages = {};
    for (const path of body.pages_kept) {
      if (!held || !held.pages[path]) return null;
      pages[path] = held.pages[path];
    }
    return Object.assign(pages, body.pages);
  }

  // claim: say which release this phone holds (false asks for the whole release).
  async function syncOnce(claim = true) {
    const previous = await currentRelease();
    const held = claim ? previous : null;
    const headers = { "Fieldguide-Device": await db.deviceId() };
    if (held) headers["If-None-Match"] = held.etag;
    let response;
    try {
      response = await fetch(SYNC_URL, { headers, cache: "no-store" });
    } catch {
      await broadcast({ type: "synced", result: "offline", release: previous ? previous.number : null });
      return "offline";
    }
    if (response.status === 401) {
      await broadcast({ type: "synced", result: "signed-out", release: previous ? previous.number : null });
      return "signed-out";
    }
    if (response.status !== 200 && !(response.status === 304 && held)) {
      throw new Error(`sync answered ${response.status}`);
    }
    lastCheck = Date.now();
    const checkedAt = response.headers.get("Fieldguide-Checked-At") || new Date().toISOString();
    await refreshShell();
    if (response.status === 304) {
      await saveCards(held.number, held.cards);
      await db.put("meta", { at: checkedAt, release: held.number }, CHECKED_KEY);
      await broadcast({ type: "synced", result: "current", release: held.number, checked_at: checkedAt });
      return "current";
    }
    const body = await response.json();
    const pages = mergePages(body, held);
    if (!pages) {
      if (!claim) throw new Error("the server kept pages of a release this phone did not claim");
      return syncOnce(false);
    }
    // The release's search index comes with it, or is null when the held release's is the same.
    const searchIndex = body.search_index || (held && held.search_index);
    if (!searchIndex) {
      if (!claim) throw new Error("the server kept the search index of a release this phone did not claim");
      return syncOnce(false);
    }
    await saveCards(body.release, body.cards, body.card_bodies);
    const { card_bodies: _bodies, retired: _retired, base: _base, pages_kept: _kept, ...manifest } = body;
    const record = {
      ...manifest, search_index: searchIndex, pages, number: body.release, saved_at: new Date().toISOString(),
    };
    await db.put("meta", record, RELEASE_KEY);
    memo = record;
    await db.put("meta", { at: checkedAt, release: record.number }, CHECKED_KEY);
    await pruneCards(record);
    await broadcast({
      type: "release",
      number: record.number,
      previous: previous ? previous.number : null,
      etag: record.etag,
      summary: record.summary,
      published_at: record.published_at,
      due_at: record.due_at,
      requires_ack: record.requires_ack,
    });
    await broadcast({ type: "synced", result: "updated", release: record.number, checked_at: checkedAt });
    // The server records which release a device holds from what it claims: claim it now.
    await fetch(SYNC_URL, { headers: { ...headers, "If-None-Match": record.etag }, cache: "no-store" })
      .catch(() => {});
    return "updated";
  }

  /** Check for a newer release now and save it; resolves to current|updated|offline|signed-out|skipped|error. */
  function sync(reason = "now") {
    if (running) return running;
    if (QUIET_REASONS.has(reason) && Date.now() - lastCheck < MIN_CHECK_GAP_MS) {
      return Promise.resolve("skipped");
    }
    running = syncOnce()
      .catch(async (error) => {
        await broadcast({ type: "synced", result: "error", message: String(error) });
        return "error";
      })
      .finally(() => { running = null; });
    return running;
  }

  /** Drop the offline copy (on sign-out): the next officer on this phone starts clean. */
  async function forget() {
    if (running) await running;
    memo = null;
    await db.del("meta", RELEASE_KEY);
    await db.del("meta", CHECKED_KEY);
    for (const name of await caches.keys()) {
      if (OWN_PREFIXES.some((prefix) => name.startsWith(prefix))) await caches.delete(name);
    }
  }

  /** Delete this part's caches of older formats. */
  async function deleteOldCaches() {
    for (const name of await caches.keys()) {
      const ours = OWN_PREFIXES.some((prefix) => name.startsWith(prefix));
      if (ours && name !== SHELL_CACHE && name !== CARDS_CACHE) await caches.delete(name);
    }
  }

  self.fieldguide.offline = {
    SHELL_CACHE,
    CARDS_CACHE,
    isCardUrl: (path) => CARD_PATH.test(path),
    currentRelease,
    shell,
    article,
    sync,
    forget,
    deleteOldCaches,
  };
})();
