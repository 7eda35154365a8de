// Receipts from the phone: each notice the worker shows is reported to the server
// (POST /api/v1/push/receipts), at once when online. Offline, or refused for now (signed out,
// an old session's token), the receipt waits in IndexedDB (store "receipts", keyed by its
// uuid) and is sent on the next app start or reconnect (the page's "sync" message) or by
// Background Sync (tag "receipts"). The uuid is made here, so a receipt sent twice is recorded
// once. Sent receipts are deleted; one no retry can change (400, 404) too.
// A part (see PARTS in sw.js): uses fieldguide.db, adds fieldguide.receipts.
(() => {
  const { db } = self.fieldguide;
  const STORE = "receipts";
  const ENDPOINT = "/api/v1/push/receipts";
  const SYNC_TAG = "receipts";
  // Answers no retry can change. 401/403 (signed out, another session) and 429/5xx wait.
  const FINAL = new Set([400, 404, 413]);
  const KINDS = new Set(["release", "reminder"]);

  async function sendOne(receipt, token) {
    let response;
    try {
      response = await fetch(ENDPOINT, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": token || "" },
        body: JSON.stringify({
          uuid: receipt.uuid,
          release: receipt.release,
          kind: receipt.kind,
          device_id: receipt.device_id,
          shown_at: receipt.shown_at,
        }),
      });
    } catch {
      return "offline";
    }
    if (response.ok || FINAL.has(response.status)) {
      await db.del(STORE, receipt.uuid);
      return "done";
    }
    return "later";
  }

  async function sendAll() {
    const waiting = await db.getAll(STORE);
    if (!waiting.length) return 0;
    // The session's token, kept by the page (push-optin.js); without it the receipts wait.
    const token = await db.get("meta", "csrf_token").catch(() => null);
    if (!token) return waiting.length;
    let left = 0;
    for (const [index, receipt] of waiting.entries()) {
      const outcome = await sendOne(receipt, token);
      if (outcome === "offline") return left + waiting.length - index;
      if (outcome === "later") left += 1;
    }
    return left;
  }

  let running = null;
  let again = false;

  // Send every waiting receipt; resolves to how many still wait. One run at a time: a call
  // during a run makes it go round once more, so a receipt stored meanwhile is not left behind.
  function flush() {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let left;
      do {
        again = false;
        left = await sendAll();
      } while (again);
      return left;
    })().finally(() => { running = null; });
    return running;
  }

  async function askForBackgroundSync() {
    if (self.registration.sync) await self.registration.sync.register(SYNC_TAG).catch(() => {});
  }

  // Store a receipt for a notice just shown about `release`, then try to send it.
  async function record(release, kind) {
    if (!Number.isInteger(release) || release < 1) return;
    const deviceId = await db.deviceId().catch(() => null);
    if (typeof deviceId !== "string") return;
    await db.put(STORE, {
      uuid: crypto.randomUUID(),
      release,
      kind: KINDS.has(kind) ? kind : "release",
      device_id: deviceId,
      shown_at: new Date().toISOString(),
    });
    if (await flush()) await askForBackgroundSync();
  }

  self.fieldguide.receipts = { record, flush, SYNC_TAG };
})();
