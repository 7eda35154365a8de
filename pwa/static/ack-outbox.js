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
//
// The answers to a release's understanding check travel the same way, in the store "answers"
// (check.js fills a record while the officer answers: "answering", then "waiting" once every
// question is right), and always before the acknowledgment of the same release, which the
// server refuses while the answers it requires have not arrived.
(() => {
  const STORE = "acks";
  const ENDPOINT = "/api/v1/acks";
  const ANSWERS = "answers";
  const ANSWERS_ENDPOINT = "/api/v1/answers";
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

  // The officer's answers to one release's check on this device, if any (one not refused first).
  async function findAnswers(user, release) {
    const records = (await db.getAll(ANSWERS)).filter((r) => r.user === user && r.release === release);
    return records.find((r) => r.state !== "refused") || records[0] || null;
  }

  async function putAnswers(record) {
    await db.put(ANSWERS, record);
    return record;
  }

  // POST one record; its store then holds it as "sent" (with what the server answered) or "refused".
  async function post(endpoint, body, record, token, save) {
    let response;
    try {
      response = await fetch(endpoint, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": token || "" },
        body: JSON.stringify(body),
      });
    } catch {
      return "offline";
    }
    if (response.ok) {
      const answer = await response.json();
      await save({ ...record, state: "sent", received_at: answer.received_at, server_uuid: answer.uuid,
        check_hash: answer.check_hash });
      return "sent";
    }
    if (FINAL.has(response.status)) {
      const answer = await response.json().catch(() => ({}));
      await save({ ...record, state: "refused", error: answer.message || `The server answered ${response.status}.` });
      return "refused";
    }
    return "later";
  }

  function sendOne(record, token) {
    return post(ENDPOINT, {
      uuid: record.uuid,
      release: record.release,
      card_hashes: record.card_hashes,
      device_time: record.device_time,
      device_id: record.device_id || null,
      attestation: record.attestation,
      reading: record.reading || null,
    }, record, token, put);
  }

  function sendAnswers(record, token) {
    return post(ANSWERS_ENDPOINT, {
      uuid: record.uuid,
      release: record.release,
      answers: record.answers,
      device_time: record.device_time,
      device_id: record.device_id || null,
    }, record, token, putAnswers);
  }

  let running = null;

  // Send every waiting record, answers first. A page passes its user and CSRF token: it then
  // sends only that user's records, with the current session's token. The worker passes nothing
  // and uses the token each record was made with (a record of another session then waits for a
  // page). An acknowledgment waits while answers of its release wait: the server needs them first.
  function flush({ user, token } = {}) {
    if (running) return running;
    running = (async () => {
      let changed = 0;
      const mine = (record) => record.state === "waiting" && (user === undefined || record.user === user);
      const blocked = new Set();
      let offline = false;
      for (const record of (await db.getAll(ANSWERS)).filter(mine)) {
        const outcome = await sendAnswers(record, user !== undefined ? token : record.csrf);
        if (outcome === "offline") { offline = true; break; }
        if (outcome === "later") blocked.add(`${record.user}:${record.release}`);
        else changed += 1;
      }
      if (offline) return changed;
      for (const record of (await all()).filter(mine)) {
        if (blocked.has(`${record.user}:${record.release}`)) continue;
        const outcome = await sendOne(record, user !== undefined ? token : record.csrf);
        if (outcome === "offline") break;
        if (outcome !== "later") changed += 1;
      }
      return changed;
    })().finally(() => { running = null; });
    return running;
  }

  // Answers still being given (check.js) are not "waiting": they are not sent until every one is right.
  async function allAnswers() {
    return db.getAll(ANSWERS);
  }

  // The id the sync sends (so the dashboard can match an ack or answers to a device's last sync),
  // or null when this browser's storage cannot give one.
  async function deviceId() {
    const id = await db.deviceId().catch(() => null);
    return typeof id === "string" && /^[A-Za-z0-9_-]{8,64}$/.test(id) ? id : null;
  }

  const acks = { all, find, put, flush, findAnswers, putAnswers, allAnswers, deviceId };
  if (inWorker) self.fieldguide.acks = acks;
  else self.fieldguideAcks = acks;
})();
