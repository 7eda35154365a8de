// Sending the receipts that wait on this device: on app start and reconnect (the page's "sync"
// message, app.js) and by Background Sync where the browser has it.
// A part (see PARTS in sw.js): uses fieldguide.receipts; adds only listeners.
(() => {
  const { receipts } = self.fieldguide;

  self.addEventListener("message", (event) => {
    const data = event.data || {};
    if (data.type === "sync") event.waitUntil(receipts.flush().catch(() => 0));
  });

  self.addEventListener("sync", (event) => {
    if (event.tag !== receipts.SYNC_TAG) return;
    event.waitUntil((async () => {
      // Some still waiting (offline again, or signed out): failing makes the browser retry later.
      if (await receipts.flush()) throw new Error("receipts still waiting");
    })());
  });
})();
