// The understanding check on "what changed", online or offline: each question is answered on the
// phone; a wrong answer shows the explanation and the card's passage, that choice is struck out, and
// the officer tries again. Every try is kept in IndexedDB (store "answers", ack-outbox.js) as it is
// made, so leaving the page loses nothing; once every question is right the answers wait to be
// sent, exactly once, before the acknowledgment of the release (ack-outbox.js flush).
//
// It also holds the attestation box back, saying why, until what the agency requires is done:
// the check answered (data-check-required on the panel) and each changed card opened in this app
// on this phone (data-open-required; reading.js times them).
import "./db.js";
import "./ack-outbox.js";
import "./reading.js";

const acks = self.fieldguideAcks;
const reading = self.fieldguideReading;
const SYNC_TAG = "acks";

function meta(name) {
  const element = document.querySelector(`meta[name="${name}"]`);
  return element ? element.content : "";
}

const token = meta("csrf-token");
const user = Number(meta("fieldguide-user")) || undefined;
const section = document.querySelector("[data-check]");
const panel = document.querySelector("[data-ack-panel]");
const release = Number((section || panel || { dataset: {} }).dataset.release) || undefined;

function questions() {
  return section ? [...section.querySelectorAll("[data-question]")] : [];
}

function plural(count, word) {
  return count === 1 ? `1 ${word}` : `${count} ${word}s`;
}

// This officer's answers to this release on this device: a record of the outbox's "answers" store.
async function record() {
  return acks.findAnswers(user, release);
}

function triesOf(rec, hash) {
  const found = rec && rec.answers.find((a) => a.question === hash);
  return found ? found.tries : [];
}

// Show one question as its tries say: wrong choices struck out, the why shown after any try.
function showQuestion(item, tries) {
  const answer = Number(item.dataset.answer);
  const right = tries.length > 0 && tries[tries.length - 1] === answer;
  item.dataset.state = right ? "right" : tries.length ? "wrong" : "open";
  for (const input of item.querySelectorAll("input[type=radio]")) {
    const value = Number(input.value);
    const label = input.closest("label");
    const tried = tries.includes(value);
    label.classList.toggle("check-choice-wrong", tried && value !== answer);
    label.classList.toggle("check-choice-right", right && value === answer);
    input.disabled = right || (tried && value !== answer);
    input.checked = right ? value === answer : false;
  }
  const why = item.querySelector("[data-why]");
  const verdict = item.querySelector("[data-verdict]");
  why.hidden = tries.length === 0;
  why.classList.toggle("check-why-wrong", !right && tries.length > 0);
  if (right) {
    verdict.textContent = tries.length === 1
      ? "Right first time."
      : `Right, after ${plural(tries.length - 1, "wrong answer")}.`;
  } else if (tries.length) {
    verdict.textContent = "Not quite. Here is what the card says; read it and try again.";
  }
}

function showStatus(rec) {
  const status = section.querySelector("[data-check-status]");
  const items = questions();
  const done = items.filter((item) => item.dataset.state === "right").length;
  if (!rec || rec.state === "answering") {
    status.textContent = done ? `${done} of ${plural(items.length, "question")} answered.` : "";
  } else if (rec.state === "waiting") {
    status.textContent = "All answered. Your answers are waiting to send: they go as soon as this device is online.";
  } else if (rec.state === "sent") {
    status.textContent = "All answered. Your agency has your answers.";
  } else if (rec.state === "refused") {
    status.textContent = `Your answers were not recorded: ${rec.error} Answer again below.`;
  }
}

function passed(rec) {
  if (section && "checkDone" in section.dataset) return true;
  return Boolean(rec && rec.state !== "answering" && rec.state !== "refused");
}

// The attestation box: usable only once what the agency requires is done; the panel says what is left.
async function showGate(rec) {
  const form = panel && panel.querySelector("[data-ack-form]");
  if (!form) return;
  const box = form.querySelector('input[name="attest"]');
  const line = panel.querySelector("[data-ack-gate]");
  const missing = [];
  if ("checkRequired" in panel.dataset) {
    const ok = passed(rec);
    const need = panel.querySelector('[data-need="check"]');
    if (need) need.classList.toggle("need-done", ok);
    if (!ok) missing.push("answer the questions below");
  }
  if ("openRequired" in panel.dataset) {
    const changed = reading.parseChanged(panel.dataset.changed);
    const opened = new Set(((await reading.opened(user, changed).catch(() => [])) || []).map((r) => r.card_id));
    for (const link of panel.querySelectorAll("[data-need-card]")) {
      link.classList.toggle("need-done", opened.has(link.dataset.needCard));
    }
    const left = changed.filter((c) => !opened.has(c.cardId)).length;
    if (left) missing.push(`open ${left === 1 ? "1 more changed card" : `${left} more changed cards`}`);
  }
  // A disabled box is skipped by the form's "required" check: hold the button back too.
  box.disabled = missing.length > 0;
  form.querySelector("button[type=submit]").disabled = box.disabled;
  if (box.disabled) box.checked = false;
  if (line) line.textContent = missing.length ? `To tick the box: ${missing.join(" and ")}.` : "Done. You can acknowledge now.";
}

function askForBackgroundSync() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.ready
    .then((registration) => registration.sync && registration.sync.register(SYNC_TAG))
    .catch(() => {});
}

async function send() {
  try {
    await acks.flush({ user, token });
  } catch {
    // Offline or IndexedDB gone: the answers wait for the next replay.
  }
  await render();
}

// Picks are handled one at a time, in order: a tap fires both click and change, and a try is counted once.
let picking = Promise.resolve();
function queue(work) {
  picking = picking.then(work).catch(() => {});
  return picking;
}

async function choose(item, value) {
  let rec = await record();
  if (!rec || rec.state === "refused") {
    rec = { uuid: crypto.randomUUID(), user, release, answers: [], state: "answering" };
  }
  if (rec.state !== "answering") return; // already complete (another tab): nothing to change
  const hash = item.dataset.question;
  let entry = rec.answers.find((a) => a.question === hash);
  if (!entry) {
    entry = { question: hash, tries: [] };
    rec.answers.push(entry);
  }
  const answer = Number(item.dataset.answer);
  if (entry.tries.includes(value) || entry.tries.includes(answer)) return;
  entry.tries.push(value);
  const complete = questions().every((q) => {
    const tries = triesOf(rec, q.dataset.question);
    return tries.length && tries[tries.length - 1] === Number(q.dataset.answer);
  });
  if (complete) {
    // In question order, as the page lists them: the server wants every question once.
    const order = questions().map((q) => q.dataset.question);
    rec.answers.sort((a, b) => order.indexOf(a.question) - order.indexOf(b.question));
    Object.assign(rec, {
      state: "waiting", device_time: new Date().toISOString(), device_id: await acks.deviceId(), csrf: token,
    });
  }
  await acks.putAnswers(rec);
  await render();
  if (value !== answer) item.querySelector("[data-why]").focus({ preventScroll: false });
  if (complete) {
    askForBackgroundSync();
    await send();
  }
}

async function render() {
  const rec = section && !("checkDone" in section.dataset) ? await record() : null;
  if (section && !("checkDone" in section.dataset)) {
    for (const item of questions()) showQuestion(item, triesOf(rec, item.dataset.question));
    showStatus(rec);
  }
  await showGate(rec);
}

// An online page saying the agency has this officer's answers (from any device): kept, so the page
// this device shows offline says so too.
async function keepServerAnswer() {
  if (!section || !("checkDone" in section.dataset)) return;
  const held = await record();
  if (held && held.state !== "refused" && held.state !== "answering") return;
  const answers = questions().map((item) => ({
    question: item.dataset.question,
    tries: (item.dataset.tries || "").split(" ").filter(Boolean).map(Number),
  }));
  await acks.putAnswers({
    uuid: held && held.state === "answering" ? held.uuid : crypto.randomUUID(),
    user, release, answers, state: "sent",
  });
}

async function start() {
  if (!user || !release || (!section && !panel)) return;
  try {
    await keepServerAnswer();
    await render();
  } catch {
    return; // IndexedDB unavailable: the page stays as the server drew it
  }
  const form = section && section.querySelector("[data-check-form]");
  if (form) {
    // Each choice is checked as it is picked: the form's round trip is for browsers without JavaScript.
    form.querySelector("[data-check-submit]").hidden = true;
    form.addEventListener("submit", (event) => event.preventDefault());
  }
  if (section && !("checkDone" in section.dataset)) {
    for (const item of questions()) {
      item.querySelector("[data-why]").tabIndex = -1;
      // Arrow keys move through a radio group and check each choice on the way: that is not an
      // answer. With a keyboard, Space or Enter on a choice answers; a tap or click answers at once.
      let arrowed = false;
      const pick = (input) => queue(() => choose(item, Number(input.value)));
      item.addEventListener("keydown", (event) => {
        const input = event.target;
        if (!input.matches("input[type=radio]")) return;
        if (event.key.startsWith("Arrow")) arrowed = true;
        else if (event.key === " " || event.key === "Enter") {
          event.preventDefault();
          pick(input);
        }
      });
      item.addEventListener("keyup", () => { arrowed = false; });
      item.addEventListener("change", (event) => {
        if (event.target.matches("input[type=radio]") && !arrowed) pick(event.target);
      });
      // A tap on the choice the arrow keys left checked fires no change event.
      item.addEventListener("click", (event) => {
        if (event.target.matches("input[type=radio]") && event.detail > 0) pick(event.target);
      });
    }
  }
  // Back from a card (or another tab answered): what is done may have changed.
  window.addEventListener("pageshow", () => render().catch(() => {}));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") render().catch(() => {});
  });
  window.addEventListener("online", send);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data && event.data.type === "fieldguide:acks") render().catch(() => {});
    });
  }
  await send();
}

start();
