// Proof of reading, lightly: how long each card is open in this app on this device, kept in
// IndexedDB (store "reading", one record per officer and card text) and sent only with an
// acknowledgment, for the cards that release changed. Nothing else is watched: only the time a
// card page of this app is visible on screen.
//
// A module with no exports (ack-queue.js and check.js import it for its effect, so it runs once
// per page): it times the card on a card page and offers self.fieldguideReading.
import "./db.js";

(() => {
  const STORE = "reading";
  const MAX_SECONDS = 86400; // what the server believes (server/acknowledgments/reading.py)
  const SAVE_EVERY_MS = 1000; // a write a second: leaving the page (its last write may not finish) loses at most that
  const db = self.fieldguideDb;

  const key = (user, cardId, hash) => `${user}:${cardId}:${hash}`;

  // The changed cards ([{cardId, hash}], parseChanged) opened here by this officer:
  // [{card_id, hash, seconds}], as the acknowledgment sends them (null when no card changed).
  async function opened(user, changed) {
    if (!changed.length) return null; // the release changed no card (a first release): nothing to say
    const found = [];
    for (const { cardId, hash } of changed) {
      const record = await db.get(STORE, key(user, cardId, hash));
      if (record) found.push({ card_id: cardId, hash, seconds: Math.min(MAX_SECONDS, Math.floor(record.seconds)) });
    }
    return found;
  }

  // "a:h1 b:h2" -> [{cardId: "a", hash: "h1"}, ...]
  function parseChanged(text) {
    return (text || "").split(/\s+/).filter(Boolean).map((pair) => {
      const [cardId, hash] = pair.split(":");
      return { cardId, hash };
    });
  }

  self.fieldguideReading = { opened, parseChanged };

  // On a card page: count the seconds the card is on screen, saved every few seconds and when hidden.
  const meta = document.querySelector('meta[name="fieldguide-user"]');
  const user = meta ? Number(meta.content) : 0;
  const article = document.querySelector("article.card[data-card][data-hash]");
  if (!user || !article) return;
  const id = key(user, article.dataset.card, article.dataset.hash);
  let since = document.visibilityState === "visible" ? Date.now() : null;
  let saving = Promise.resolve();

  function save() {
    if (since === null) return saving;
    const now = Date.now();
    const seconds = (now - since) / 1000;
    since = document.visibilityState === "visible" ? now : null;
    saving = saving.then(async () => {
      const record = (await db.get(STORE, id)) || {
        key: id, user, card_id: article.dataset.card, hash: article.dataset.hash, seconds: 0,
      };
      record.seconds = Math.min(MAX_SECONDS, record.seconds + seconds);
      record.last_opened = new Date().toISOString();
      await db.put(STORE, record);
    }).catch(() => {}); // IndexedDB unavailable: nothing is kept, nothing is sent
    return saving;
  }

  // Opened counts even for a glance: the record exists from the first moment.
  save();
  setInterval(() => { if (document.visibilityState === "visible") save(); }, SAVE_EVERY_MS);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") since = Date.now();
    else save();
  });
  window.addEventListener("pagehide", save);
})();
