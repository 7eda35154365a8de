// Web Push in the service worker: show the notice, open "what changed" on a tap, update the
// offline copy, report each notice shown (a receipt), and follow a browser's replaced subscription.
// A part (see PARTS in sw.js): uses fieldguide.db, fieldguide.offline and fieldguide.receipts; adds only listeners.
(() => {
  const { db, offline, receipts } = self.fieldguide;
  const PUSH_TAG = "guidance"; // one notice on the phone at a time: a newer one replaces it
  const PUSH_ICON = "/static/icons/icon-192.png";
  const PUSH_SUBSCRIPTIONS = "/api/v1/push/subscriptions";

  // Only this app's own pages may be opened from a notice.
  function pushTarget(path) {
    const url = new URL(typeof path === "string" && path ? path : "/changes", self.location.origin);
    return url.origin === self.location.origin ? url.href : new URL("/changes", self.location.origin).href;
  }

  function pushNotice(data) {
    const release = Number.isInteger(data.release) ? data.release : null;
    const agency = typeof data.agency === "string" && data.agency ? data.agency : "SRO Field Guide";
    const title = typeof data.title === "string" && data.title ? data.title : `${agency}: guidance updated`;
    const body = typeof data.body === "string" && data.body
      ? data.body
      : release ? `Release ${release} is out. Tap to see what changed.` : "Your agency's guidance changed. Tap to see what changed.";
    const url = pushTarget(data.url || (release ? `/changes?to=${release}` : "/changes"));
    return {
      title,
      options: {
        body,
        tag: typeof data.tag === "string" && data.tag ? data.tag : PUSH_TAG,
        renotify: true,
        icon: PUSH_ICON,
        timestamp: Date.now(),
        data: { url, release, kind: data.kind || "release" },
      },
    };
  }

  // Save the new release for offline use now (offline-copy.js owns syncing; it never rejects:
  // offline or refused, the next start or the next notice tries again).
  const pushSyncRelease = () => offline.sync("push");

  self.addEventListener("push", (event) => {
    let data = {};
    try {
      data = event.data ? event.data.json() : {};
    } catch {
      data = {}; // an unreadable payload still tells the officer that something changed
    }
    const { title, options } = pushNotice(data && typeof data === "object" ? data : {});
    // The receipt once the notice is shown (a receipt never fails the push event).
    const shown = self.registration.showNotification(title, options)
      .then(() => receipts.record(options.data.release, options.data.kind).catch(() => {}));
    event.waitUntil(Promise.all([shown, pushSyncRelease()]));
  });

  // Focus a window already on that page, else bring an open window there, else open one.
  async function pushOpen(url) {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const same = windows.find((client) => client.url === url);
    if (same) return same.focus();
    for (const client of windows) {
      if (new URL(client.url).origin !== self.location.origin) continue;
      // Both start at once, while the tap still allows focusing a window.
      const focusing = client.focus().catch(() => null);
      const moved = await client.navigate(url).catch(() => null);
      await focusing;
      if (moved) return moved;
      break; // not controlled by this worker (navigate refuses): open a fresh window instead
    }
    return self.clients.openWindow(url);
  }

  self.addEventListener("notificationclick", (event) => {
    event.notification.close();
    const data = event.notification.data || {};
    event.waitUntil(pushOpen(pushTarget(data.url)));
  });

  // Firefox and Safari replace a subscription that expired or was revoked; Chrome never fires
  // this (the page re-sends its subscription on every start instead).
  self.addEventListener("pushsubscriptionchange", (event) => {
    event.waitUntil((async () => {
      const old = event.oldSubscription;
      let subscription = event.newSubscription;
      try {
        if (!subscription && old && old.options) subscription = await self.registration.pushManager.subscribe(old.options);
      } catch {
        subscription = null;
      }
      if (subscription) {
        const token = await db.get("meta", "csrf_token").catch(() => null);
        const body = { ...subscription.toJSON() };
        if (old) body.old_endpoint = old.endpoint;
        try {
          const response = await fetch(PUSH_SUBSCRIPTIONS, {
            method: "POST",
            credentials: "same-origin",
            headers: { "Content-Type": "application/json", "X-CSRF-Token": token || "" },
            body: JSON.stringify(body),
          });
          if (response.ok) return;
        } catch {
          // offline: left for the page below
        }
      }
      // The page finishes the job on its next start (push-optin.js reads this and re-sends).
      if (old) await db.put("meta", old.endpoint, "push_old_endpoint").catch(() => {});
    })());
  });
})();
