// The status line and the update banner: "Offline — release 3, synced 10:42", progress while a
// release is saved for offline use, a warning when this phone has not checked with the server
// for over a week, and "Guidance updated to release N — see what changed". Text on the page is
// never swapped under the reader: a newer release waits for the officer to open it. Nothing
// here moves the page: the status line has one line of room (app.css), and the longer notes
// and the banner float above the tab bar.
import "./db.js";

const STALE_AFTER_MS = 7 * 24 * 60 * 60 * 1000;
const status = document.getElementById("status");
const statusText = document.getElementById("status-text");
const note = document.getElementById("status-note");
const banner = document.getElementById("update-banner");
const root = document.documentElement;
const shown = Number(root.dataset.release) || null;
const fromDevice = root.dataset.served === "device";

// reached: a check with the server succeeded since this page loaded.
const state = { saved: null, checkedAt: null, saving: null, signedOut: false, reached: false };

/** "10:42 AM" today, else "Mar 3" (the status line has one line). */
function when(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  if (date.toDateString() === new Date().toDateString()) {
    return date.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
  }
  return date.toLocaleDateString([], { month: "short", day: "numeric" });
}

function render() {
  if (!status || !statusText) return;
  const release = shown || state.saved;
  const offline = !navigator.onLine || (fromDevice && !state.reached);
  // The line is kept short enough for one line on a phone (longer text ends in "…").
  let text;
  let mode;
  const notes = [];
  if (state.saving) {
    const { release: number, done, total } = state.saving;
    mode = "saving";
    text = `Saving release ${number}: ${done} of ${total} cards`;
  } else if (offline) {
    mode = "offline";
    text = release
      ? `Offline — release ${release}` + (state.checkedAt ? `, synced ${when(state.checkedAt)}` : "")
      : "Offline — no guidance saved on this phone yet";
  } else if (state.saved) {
    mode = "online";
    text = `Release ${release} · works offline`;
  } else {
    mode = "unknown";
    // Pages without a release of their own (the supervisor's, say) before the phone has saved one.
    text = release ? `Release ${release}` : "Guidance not yet saved for offline use";
  }
  if (state.signedOut && !state.saving) notes.push("Sign in again to get new guidance.");
  if (!state.saving && state.checkedAt && Date.now() - Date.parse(state.checkedAt) > STALE_AFTER_MS) {
    mode = "stale";
    notes.push("Not checked for new guidance for over 7 days: connect to the internet to update.");
  }
  status.dataset.state = mode;
  // A busy live region is read once saving ends, not card by card.
  status.setAttribute("aria-busy", String(mode === "saving"));
  statusText.textContent = text;
  if (note) {
    note.textContent = notes.join(" ");
    note.hidden = !notes.length;
  }
}

function showBanner(number) {
  if (!banner || !shown || number <= shown || banner.dataset.release === String(number)) return;
  const link = document.createElement("a");
  link.href = `/changes?to=${number}&from=${shown}`;
  link.textContent = "see what changed";
  const open = document.createElement("button");
  open.type = "button";
  open.textContent = `Show release ${number}`;
  open.addEventListener("click", () => window.location.reload());
  const text = document.createElement("span");
  text.append(`Guidance updated to release ${number} — `, link);
  banner.replaceChildren(text, open);
  banner.dataset.release = String(number);
  banner.hidden = false;
}

async function load() {
  const [saved, checked] = await Promise.all([
    self.fieldguideDb.get("meta", "release"),
    self.fieldguideDb.get("meta", "checked"),
  ]).catch(() => [null, null]);
  state.saved = saved ? saved.number : null;
  state.checkedAt = checked ? checked.at : null;
  if (state.saved) showBanner(state.saved);
  render();
}

window.addEventListener("fieldguide:progress", ({ detail }) => {
  state.saving = detail.done < detail.total ? detail : null;
  render();
});
window.addEventListener("fieldguide:release", ({ detail }) => {
  state.saving = null;
  state.saved = detail.number;
  showBanner(detail.number);
  render();
});
window.addEventListener("fieldguide:synced", ({ detail }) => {
  state.signedOut = detail.result === "signed-out";
  if (detail.result === "current" || detail.result === "updated") state.reached = true;
  if (detail.result === "offline") state.reached = false;
  if (detail.checked_at) state.checkedAt = detail.checked_at;
  if (detail.result === "error") state.saving = null;
  render();
});
window.addEventListener("online", render);
window.addEventListener("offline", render);
load();
