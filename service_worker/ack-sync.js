// Background Sync for acknowledgments, and the answers to a release's check, made offline
// (Chromium has it; other browsers rely on the page replaying on start and on `online`).
// A part (see PARTS in sw.js): uses fieldguide.acks; adds only a listener.
(() => {
  const { acks } = self.fieldguide;

  self.addEventListener("sync", (event) => {
    if (event.tag !== "acks") return;
    event.waitUntil((async () => {
      const changed = await acks.flush();
      // Answers to a release's check go the same way, first (ack-outbox.js).
      const waiting = [...await acks.allAnswers(), ...await acks.all()].filter((r) => r.state === "waiting");
      if (changed) {
        for (const client of await self.clients.matchAll({ type: "window" })) {
          client.postMessage({ type: "fieldguide:acks" });
        }
      }
      // Some still waiting (offline again, or signed out): failing makes the browser retry later.
      if (waiting.length) throw new Error("acknowledgments or answers still waiting");
    })());
  });
})();
