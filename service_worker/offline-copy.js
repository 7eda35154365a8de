// The offline copy: the app shell and exactly one complete release of the officer's guidance,
// kept current with the delta sync described in docs/sync.md.
//
// Card bodies live in the cards cache under their API URL (/api/v1/cards/HASH); a hash names
// one exact text, so a card unchanged between releases is never fetched twice. The release
// itself (manifest, page fragments and search index) is one record in IndexedDB "meta" under
// "release", so offline search needs nothing else.
// It is replaced only after every card of the new release is cached, then the cards no longer
// named are deleted: the device holds one whole release, never a mix.
// Sets self.fieldguideOffline and self.fieldguideSync(reason).
(() => {
  const SHELL_CACHE = "fieldguide-shell-v1";
  const CARDS_CACHE = "fieldguide-cards-v1";
  const OWN_PREFIXES = ["fieldguide-shell-", "fieldguide-cards-"];
  const SHELL_URL = "/shell";
  const SYNC_URL = "/api/v1/sync";
  const CARD_PATH = /^\/api\/v1\/cards\/[0-9a-f]{64}$/;
  const RELEASE_KEY = "release";
  const CHECKED_KEY = "checked";
  // Page starts and focus within this time of the last check are folded into it.
  const MIN_CHECK_GAP_MS = 30 * 1000;
  const QUIET_REASONS = new Set(["start", "focus", "interval"]);
  const ASSET = /(?:href|src)="(\/static\/[^"]+)"/g;
  const MODULE_IMPORT = /\bimport\s+(?:[\w*{}\s,]+\s+from\s+)?["'](\.{1,2}\/[\w./-]+\.js)["']/g;

  const db = () => self.fieldguideDb;
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
    if (!memo) memo = (await db().get("meta", RELEASE_KEY)) || null;
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

  // Every file the shell loads, and the scripts those import by relative path, in the cache.
  // Hashed files never change; the others are fetched again when the shell itself changed.
  async function keepAssets(cache, shellText, shellChanged) {
    const keep = new Set();
    const queue = [...shellText.matchAll(ASSET)].map((m) => m[1].replaceAll("&amp;", "&"));
    while (queue.length) {
      const url = queue.shift();
      if (keep.has(url)) continue;
      keep.add(url);
      const hashed = new URL(url, self.location.origin).searchParams.has("v");
      let response = hashed || !shellChanged ? await cache.match(url) : undefined;
      if (!response) {
        response = await fetch(url, { cache: "no-cache" });
        if (!response.ok) throw new Error(`${url} answered ${response.status}`);
        await cache.put(url, response.clone());
      }
      if (url.split("?")[0].endsWith(".js")) {
        const base = new URL(url, self.location.origin);
        for (const m of (await response.text()).matchAll(MODULE_IMPORT)) {
          queue.push(new URL(m[1], base).pathname);
        }
      }
    }
    return keep;
  }

  async function refreshShell() {
    const cache = await caches.open(SHELL_CACHE);
    const cached = await cache.match(SHELL_URL);
    const headers = {};
    if (cached && cached.headers.get("ETag")) headers["If-None-Match"] = cached.headers.get("ETag");
    const response = await fetch(SHELL_URL, { headers, cache: "no-store", redirect: "manual" });
    if (response.status === 304 && cached) {
      await keepAssets(cache, await cached.text(), false);
      return;
    }
    if (response.status !== 200) throw new Error(`the shell answered ${response.status}`);
    const keep = await keepAssets(cache, await response.clone().text(), true);
    await cache.put(SHELL_URL, response);
    for (const request of await cache.keys()) {
      const url = new URL(request.url);
      if (url.searchParams.has("v") && !keep.has(url.pathname + url.search)) await cache.delete(request);
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
    const headers = { "Fieldguide-Device": await db().deviceId() };
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
      await db().put("meta", { at: checkedAt, release: held.number }, CHECKED_KEY);
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
    await db().put("meta", record, RELEASE_KEY);
    memo = record;
    await db().put("meta", { at: checkedAt, release: record.number }, CHECKED_KEY);
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
    await db().del("meta", RELEASE_KEY);
    await db().del("meta", CHECKED_KEY);
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

  self.fieldguideOffline = {
    SHELL_CACHE,
    CARDS_CACHE,
    isCardUrl: (path) => CARD_PATH.test(path),
    currentRelease,
    shell,
    article,
    forget,
    deleteOldCaches,
  };
  self.fieldguideSync = sync;
})();
