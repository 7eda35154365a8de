// Background Sync for acknowledgments made offline (Chromium has it; other browsers rely on the
// page replaying on start and on `online`). Loaded by sw.js with importScripts, after db.js.
importScripts("/static/ack-outbox.js");

self.addEventListener("sync", (event) => {
  if (event.tag !== "acks") return;
  event.waitUntil((async () => {
    const changed = await self.fieldguideAcks.flush();
    const waiting = (await self.fieldguideAcks.all()).filter((r) => r.state === "waiting");
    if (changed) {
      for (const client of await self.clients.matchAll({ type: "window" })) {
        client.postMessage({ type: "fieldguide:acks" });
      }
    }
    // Some still waiting (offline again, or signed out): failing makes the browser retry later.
    if (waiting.length) throw new Error("acknowledgments still waiting");
  })());
});
