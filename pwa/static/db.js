// A small IndexedDB helper shared by the pages and the service worker.
// A classic script with no exports, so that both can load it: pages import it for its effect
// (`import "./db.js"`) and use self.fieldguideDb; in the service worker it is a part (see PARTS
// in sw.js) and adds fieldguide.db.
(() => {
  const DB_NAME = "fieldguide";
  const DB_VERSION = 3;
  // Object stores: "meta" (key/value: sync state), "acks" (queued acknowledgments, key uuid),
  // "receipts" (notices shown, waiting to be reported; the service worker's, key uuid),
  // "answers" (an officer's answers to a release's understanding check, key uuid; sent with the
  // acknowledgments) and "reading" (seconds each card was open here, key "user:card_id:hash").
  const STORES = {
    meta: { keyPath: null },
    acks: { keyPath: "uuid" },
    receipts: { keyPath: "uuid" },
    answers: { keyPath: "uuid" },
    reading: { keyPath: "key" },
  };

  let opening = null;

  function openDb() {
    if (opening) return opening;
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        for (const [name, options] of Object.entries(STORES)) {
          if (!db.objectStoreNames.contains(name)) {
            db.createObjectStore(name, options.keyPath ? { keyPath: options.keyPath } : undefined);
          }
        }
      };
      request.onsuccess = () => {
        const db = request.result;
        // A newer version opened elsewhere (a page or worker after an update): step aside.
        db.onversionchange = () => { db.close(); opening = null; };
        resolve(db);
      };
      request.onerror = () => { opening = null; reject(request.error); };
    });
    return opening;
  }

  async function run(store, mode, action) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(store, mode);
      const request = action(tx.objectStore(store));
      tx.oncomplete = () => resolve(request ? request.result : undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }

  // This browser's id for the server (meta "device_id"): read or made in one transaction, so a
  // page and the worker starting together agree on one id.
  async function deviceId() {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const tx = db.transaction("meta", "readwrite");
      const store = tx.objectStore("meta");
      let id;
      store.get("device_id").onsuccess = (event) => {
        id = event.target.result;
        if (typeof id !== "string") {
          id = crypto.randomUUID();
          store.put(id, "device_id");
        }
      };
      tx.oncomplete = () => resolve(id);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }

  const dbApi = {
    get: (store, key) => run(store, "readonly", (s) => s.get(key)),
    getAll: (store) => run(store, "readonly", (s) => s.getAll()),
    put: (store, value, key) => run(store, "readwrite", (s) => (key === undefined ? s.put(value) : s.put(value, key))),
    del: (store, key) => run(store, "readwrite", (s) => s.delete(key)),
    deviceId,
  };

  // In the service worker, on its one namespace; on the pages, as the global they use.
  if (typeof ServiceWorkerGlobalScope === "function" && self instanceof ServiceWorkerGlobalScope) {
    self.fieldguide.db = dbApi;
  } else {
    self.fieldguideDb = dbApi;
  }
})();
