// Acknowledgments on the page: the form on "what changed" is queued on this device instead of
// posted, shown as waiting until the server confirms it, and replayed on app start, when the
// connection returns, and by the service worker's Background Sync where the browser has it.
// Without IndexedDB the form is simply posted.
//
// This device owns the officer's state: the copy of "what changed" it keeps for offline use is
// the same for every officer, an empty form with no uuid or token. The panel shows what the
// acknowledgments held here say (queued here, or the server's answer seen on an online page),
// and a page from the device gets a fresh uuid and this session's token.
import "./db.js";
import "./ack-outbox.js";
import "./reading.js";

const acks = self.fieldguideAcks;
const SYNC_TAG = "acks";

function meta(name) {
  const element = document.querySelector(`meta[name="${name}"]`);
  return element ? element.content : "";
}

const token = meta("csrf-token");
const user = Number(meta("fieldguide-user")) || undefined;
const panel = document.querySelector("[data-ack-panel]");

function when(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

function showPanel(record) {
  if (!panel || panel.dataset.state !== "form") return;
  const form = panel.querySelector("[data-ack-form]");
  const status = panel.querySelector("[data-ack-status]");
  const state = record ? record.state : "form";
  form.hidden = state === "waiting" || state === "sent";
  panel.dataset.queue = state;
  const heading = panel.querySelector("h2");
  heading.dataset.asked ||= heading.textContent;
  heading.textContent = state === "sent" ? `Release ${panel.dataset.release} acknowledged` : heading.dataset.asked;
  if (state === "waiting") {
    status.textContent = "Acknowledgment waiting to send. It will go as soon as this device is back online.";
  } else if (state === "sent") {
    status.textContent = record.received_at ? `Acknowledged ${when(record.received_at)}` : "Acknowledged";
  } else if (state === "refused") {
    status.textContent = `Your acknowledgment was not recorded: ${record.error}`;
    form.querySelector("button").disabled = false;
  } else {
    status.textContent = "";
  }
}

function showWaitingCount(count) {
  let line = document.getElementById("ack-waiting");
  if (!count) {
    if (line) line.hidden = true;
    return;
  }
  if (!line) {
    line = document.createElement("p");
    line.id = "ack-waiting";
    line.className = "ack-waiting";
    line.setAttribute("role", "status");
    const anchor = document.getElementById("status");
    if (anchor) anchor.after(line);
    else document.querySelector("main").prepend(line);
  }
  line.hidden = false;
  line.textContent = count === 1 ? "1 acknowledgment waiting to send" : `${count} acknowledgments waiting to send`;
}

async function render() {
  const mine = (await acks.all()).filter((r) => r.user === user);
  showWaitingCount(mine.filter((r) => r.state === "waiting").length);
  if (panel) showPanel(await acks.find(user, Number(panel.dataset.release)));
}

async function replay() {
  try {
    if (await acks.flush({ user, token })) await render();
  } catch {
    // IndexedDB unavailable: nothing was queued here.
  }
}

function askForBackgroundSync() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.ready
    .then((registration) => registration.sync && registration.sync.register(SYNC_TAG))
    .catch(() => {});
}

async function acknowledge(event) {
  const form = event.currentTarget;
  event.preventDefault();
  const button = form.querySelector("button");
  button.disabled = true;
  const data = new FormData(form);
  const release = Number(data.get("release"));
  try {
    const earlier = await acks.find(user, release);
    if (!earlier || earlier.state === "refused") {
      await acks.put({
        uuid: String(data.get("uuid")),
        user,
        release,
        card_hashes: String(data.get("card_hashes")).split(/\s+/).filter(Boolean),
        attestation: String(data.get("attestation")),
        device_time: new Date().toISOString(),
        device_id: await acks.deviceId(),
        // The changed cards opened on this device, and for how long (reading.js): sent only here.
        reading: await self.fieldguideReading.opened(user, self.fieldguideReading.parseChanged(panel.dataset.changed)),
        csrf: token,
        state: "waiting",
      });
    }
  } catch {
    form.submit(); // no IndexedDB on this device: post the form as it is
    return;
  }
  await render();
  askForBackgroundSync();
  await replay();
}

// The device's copy of the form carries no uuid or token: a fresh key for each page shown, so no
// two officers, and no two acknowledgments, share one.
function fillForm(form) {
  for (const [name, value] of [["uuid", () => crypto.randomUUID()], ["csrf_token", () => token]]) {
    const field = form.elements.namedItem(name);
    if (field && !field.value) field.value = value();
  }
}

// An online page saying the release is acknowledged (here or on another device): kept, so the
// page this device shows offline says so too.
async function keepServerAnswer() {
  const status = panel && panel.dataset.state === "done" && panel.querySelector("[data-ack-uuid]");
  if (!status) return;
  const release = Number(panel.dataset.release);
  const held = await acks.find(user, release);
  // One queued here still waiting ends as sent at the replay: the server answers with its own.
  if (held && held.state !== "refused") return;
  const time = status.querySelector("time");
  await acks.put({
    uuid: status.dataset.ackUuid,
    user,
    release,
    state: "sent",
    received_at: time ? time.getAttribute("datetime") : null,
  });
}

async function start() {
  if (!user) return;
  const form = panel && panel.querySelector("[data-ack-form]");
  if (form) {
    fillForm(form);
    form.addEventListener("submit", acknowledge);
  }
  try {
    await keepServerAnswer();
    await render();
  } catch {
    return; // IndexedDB unavailable: the form posts normally
  }
  window.addEventListener("online", replay);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data && event.data.type === "fieldguide:acks") render().catch(() => {});
    });
  }
  await replay();
}

start();
