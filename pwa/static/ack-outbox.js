// The acknowledgment outbox, shared by the pages and the service worker. A classic script with
// no exports, so that both can load it: pages import it after db.js (ack-queue.js) and use
// self.fieldguideAcks; in the service worker it is a part (see PARTS in sw.js) that uses
// fieldguide.db and adds fieldguide.acks.
//
// Each acknowledgment made on this device is a record in the IndexedDB store "acks", keyed by
// its uuid, and stays there: "waiting" until the server confirms it, then "sent" (so a page
// shown offline still knows), or "refused" with the server's reason (never silently dropped).
// The server records one acknowledgment per officer and release whatever the uuid, so sending
// the same record twice (two tabs, the page and the worker at once) is harmless.
(() => {
  const STORE = "acks";
  const ENDPOINT = "/api/v1/acks";
  // Answers that no retry can change. 401/403 (signed out, another session) and 429/5xx wait.
  const FINAL = new Set([400, 404, 409, 413]);
  const inWorker = typeof ServiceWorkerGlobalScope === "function" && self instanceof ServiceWorkerGlobalScope;
  const db = inWorker ? self.fieldguide.db : self.fieldguideDb;

  async function all() {
    return db.getAll(STORE);
  }

  // The record of one officer's acknowledgment of one release on this device, if any.
  async function find(user, release) {
    const records = await all();
    return records.find((r) => r.user === user && r.release === release && r.state !== "refused")
      || records.find((r) => r.user === user && r.release === release)
      || null;
  }

  async function put(record) {
    await db.put(STORE, record);
    return record;
  }

  async function sendOne(record, token) {
    let response;
    try {
      response = await fetch(ENDPOINT, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": token || "" },
        body: JSON.stringify({
          uuid: record.uuid,
          release: record.release,
          card_hashes: record.card_hashes,
          device_time: record.device_time,
          device_id: record.device_id || null,
          attestation: record.attestation,
        }),
      });
    } catch {
      return "offline";
    }
    if (response.ok) {
      const body = await response.json();
      await put({ ...record, state: "sent", received_at: body.received_at, server_uuid: body.uuid });
      return "sent";
    }
    if (FINAL.has(response.status)) {
      const body = await response.json().catch(() => ({}));
      await put({ ...record, state: "refused", error: body.message || `The server answered ${response.status}.` });
      return "refused";
    }
    return "later";
  }

  let running = null;

  // Send every waiting record. A page passes its user and CSRF token: it then sends only that
  // user's records, with the current session's token. The worker passes nothing and uses the
  // token each record was made with (a record of another session then waits for a page).
  function flush({ user, token } = {}) {
    if (running) return running;
    running = (async () => {
      let changed = 0;
      for (const record of await all()) {
        if (record.state !== "waiting") continue;
        if (user !== undefined && record.user !== user) continue;
        const outcome = await sendOne(record, user !== undefined ? token : record.csrf);
        if (outcome === "offline") break;
        if (outcome !== "later") changed += 1;
      }
      return changed;
    })().finally(() => { running = null; });
    return running;
  }

  const acks = { all, find, put, flush };
  if (inWorker) self.fieldguide.acks = acks;
  else self.fieldguideAcks = acks;
})();
