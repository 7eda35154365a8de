// Web Push on the page: the "Get alerts" button (asked only on a tap, never on load), and keeping
// the server's copy of this device's subscription current on every start (Chrome never fires
// pushsubscriptionchange, and a rotated server key needs a fresh subscription).
import "./db.js";

const KEY_URL = "/api/v1/push/key";
const SUBSCRIPTIONS_URL = "/api/v1/push/subscriptions";
const SYNCED = "fieldguide-push-synced"; // sessionStorage: the endpoint this browser session sent
const OLD_ENDPOINT = "push_old_endpoint"; // IndexedDB meta: left by the worker when a resubscribe could not be sent
const CSRF_KEY = "csrf_token"; // IndexedDB meta: lets the worker send a changed subscription itself
const READY_TIMEOUT_MS = 10000;

const db = self.fieldguideDb;

class PushProblem extends Error {}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function isIos() {
  return /iPad|iPhone|iPod/.test(navigator.userAgent) || (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1);
}

function isStandalone() {
  return navigator.standalone === true || window.matchMedia("(display-mode: standalone)").matches;
}

// Why this device cannot get alerts right now, in words that say what to do; null when it can.
function unavailableReason() {
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    if (isIos() && !isStandalone()) {
      return "On iPhone and iPad, alerts work only in the Home Screen app: tap Share, then “Add to Home Screen”, open Field Guide from your Home Screen and come back to this page.";
    }
    return "This browser cannot receive alerts. Open Field Guide in a current Chrome, Edge, Firefox or Safari.";
  }
  if (Notification.permission === "denied") {
    return "Notifications are blocked for this site. Allow them in your browser's site settings (tap the icon left of the address), then reload this page.";
  }
  return null;
}

function keyBytes(base64url) {
  const text = atob(base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (base64url.length % 4)) % 4));
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function sameKey(buffer, bytes) {
  if (!buffer) return false;
  const have = new Uint8Array(buffer);
  return have.length === bytes.length && have.every((b, i) => b === bytes[i]);
}

async function serverKey() {
  let response;
  try {
    response = await fetch(KEY_URL, { credentials: "same-origin" });
  } catch {
    throw new PushProblem("You're offline. Connect, then try again.");
  }
  if (!response.ok) throw new PushProblem("The server could not give this device its alert key. Reload the page and try again.");
  return keyBytes((await response.json()).public_key);
}

async function ready() {
  const timeout = new Promise((_, reject) =>
    setTimeout(() => reject(new PushProblem("The app's offline helper is not running yet. Reload the page and try again.")), READY_TIMEOUT_MS));
  return Promise.race([navigator.serviceWorker.ready, timeout]);
}

async function deviceId() {
  const id = await db.get("meta", "device_id").catch(() => null);
  return typeof id === "string" && /^[A-Za-z0-9_-]{8,64}$/.test(id) ? id : undefined;
}

async function send(method, body) {
  let response;
  try {
    response = await fetch(SUBSCRIPTIONS_URL, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(body),
    });
  } catch {
    throw new PushProblem("You're offline. Connect, then try again.");
  }
  if (!response.ok && !(method === "DELETE" && response.status === 404)) {
    const error = await response.json().catch(() => ({}));
    throw new PushProblem(error.message || `The server refused (${response.status}). Reload the page and try again.`);
  }
  return response;
}

async function store(subscription, oldEndpoint) {
  const body = { ...subscription.toJSON(), device_id: await deviceId() };
  if (oldEndpoint) body.old_endpoint = oldEndpoint;
  const response = await send("POST", body);
  sessionStorage.setItem(SYNCED, subscription.endpoint);
  await db.del("meta", OLD_ENDPOINT).catch(() => {});
  // The server's answer; its message says which older devices stopped getting alerts (the cap).
  return response.json().catch(() => ({}));
}

// A subscription made with the current server key (replacing one made with a rotated key).
async function currentSubscription(registration, key) {
  const existing = await registration.pushManager.getSubscription();
  if (existing && sameKey(existing.options.applicationServerKey, key)) return { subscription: existing, old: null };
  if (existing) await existing.unsubscribe();
  const subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  return { subscription, old: existing ? existing.endpoint : null };
}

// On every start: tell the server about this device's subscription once per browser session.
async function resync() {
  if (unavailableReason() || Notification.permission !== "granted") return;
  await db.put("meta", csrfToken(), CSRF_KEY).catch(() => {});
  const registration = await navigator.serviceWorker.getRegistration("/");
  if (!registration) return;
  const existing = await registration.pushManager.getSubscription();
  const left = await db.get("meta", OLD_ENDPOINT).catch(() => null);
  // No subscription and nothing left by the worker: the officer turned alerts off here.
  if (!existing && !left) return;
  if (existing && !left && sessionStorage.getItem(SYNCED) === existing.endpoint) return;
  const key = await serverKey();
  const { subscription, old } = await currentSubscription(registration, key);
  await store(subscription, old || left || undefined);
}

function setUp(section) {
  const state = section.querySelector("[data-push-state]");
  const on = section.querySelector("[data-push-subscribe]");
  const off = section.querySelector("[data-push-unsubscribe]");
  const show = (text, subscribed) => {
    state.textContent = text;
    on.hidden = subscribed !== false;
    off.hidden = subscribed !== true;
  };
  const busy = (flag) => { on.disabled = flag; off.disabled = flag; };

  const render = async () => {
    const reason = unavailableReason();
    if (reason) return show(reason, null);
    const registration = await navigator.serviceWorker.getRegistration("/");
    const subscription = registration ? await registration.pushManager.getSubscription() : null;
    if (subscription && Notification.permission === "granted") show("Alerts are on for this device.", true);
    else show("Alerts are off on this device.", false);
  };

  on.addEventListener("click", async () => {
    busy(true);
    try {
      const permission = await Notification.requestPermission();
      if (permission === "denied") return show(unavailableReason(), null);
      if (permission !== "granted") return show("You didn't allow notifications. Tap the button to be asked again.", false);
      state.textContent = "Turning alerts on…";
      const key = await serverKey();
      const { subscription, old } = await currentSubscription(await ready(), key);
      const answer = await store(subscription, old);
      const dropped = typeof answer.message === "string" && answer.dropped ? ` ${answer.message}` : "";
      show(`Alerts are on for this device. You'll get one when your agency publishes new guidance.${dropped}`, true);
    } catch (error) {
      show(error instanceof PushProblem ? error.message : `Alerts could not be turned on (${error.message || error}). Try again.`, false);
    } finally {
      busy(false);
    }
  });

  off.addEventListener("click", async () => {
    busy(true);
    try {
      const registration = await navigator.serviceWorker.getRegistration("/");
      const subscription = registration ? await registration.pushManager.getSubscription() : null;
      if (subscription) {
        await send("DELETE", { endpoint: subscription.endpoint });
        await subscription.unsubscribe();
      }
      sessionStorage.removeItem(SYNCED);
      show("Alerts are off on this device.", false);
    } catch (error) {
      state.textContent = error instanceof PushProblem ? error.message : `Alerts could not be turned off (${error.message || error}). Try again.`;
    } finally {
      busy(false);
    }
  });

  render().catch(() => show("Could not check this device's alerts. Reload the page.", null));
}

// Signing out turns alerts off on this device: the next person to use it must not get them.
async function forgetOnSignOut() {
  sessionStorage.removeItem(SYNCED);
  await Promise.all([db.del("meta", CSRF_KEY), db.del("meta", OLD_ENDPOINT)]).catch(() => {});
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) return;
  const registration = await navigator.serviceWorker.getRegistration("/");
  const subscription = registration ? await registration.pushManager.getSubscription() : null;
  if (!subscription) return;
  await send("DELETE", { endpoint: subscription.endpoint }).catch(() => {});
  await subscription.unsubscribe();
}

for (const form of document.querySelectorAll('form[action="/sign-out"]')) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const done = () => form.submit();
    Promise.race([forgetOnSignOut(), new Promise((resolve) => setTimeout(resolve, 3000))]).then(done, done);
  }, { once: true });
}

const section = document.querySelector("[data-push-optin]");
if (section) setUp(section);
resync().catch(() => {}); // offline or refused: tried again on the next start
