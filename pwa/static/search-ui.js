// Instant search: results on each keystroke, ranked on this phone with the search index saved
// with the release (the same index and ranking as the server), so it works with no signal and
// needs no card bodies. On the search page and in the home page's box. Used only when the saved
// release is the one this page shows; otherwise, and without JavaScript, the forms go to the
// server's /search.
import "./db.js";
import "./search.js";

const BOXES = [
  // The search page: the results replace the server's, and the address follows the query.
  { form: "search-form", input: "q", list: "results", count: "result-count", none: "no-results", page: true },
  // Home: the results show under the box; Search (or Enter) still opens the search page.
  { form: "home-search", input: "home-q", list: "home-results", count: "home-result-count", none: "home-no-results" },
];
const search = self.fieldguideSearch;
const ADDRESS_DELAY_MS = 300;
let loading = null;

async function loadIndex() {
  const release = await self.fieldguideDb.get("meta", "release");
  if (!release || String(release.number) !== document.documentElement.dataset.release) return null;
  // A release saved by an older app version has no index: the forms then go to the server.
  if (!release.search_index) return null;
  return { cards: release.cards, tables: search.prepare(release.search_index) };
}

/** The saved release's search index (loaded once per page, on first need), or null. */
function index() {
  loading ||= loadIndex().catch(() => null);
  return loading;
}

function cardLink(card) {
  const title = document.createElement("span");
  title.className = "card-link-title";
  title.textContent = card.title;
  const summary = document.createElement("span");
  summary.className = "card-link-summary";
  summary.textContent = card.summary;
  const link = document.createElement("a");
  link.href = `/cards/${card.id}`;
  link.append(title, summary);
  const item = document.createElement("li");
  item.className = "card-link";
  item.append(link);
  return item;
}

// Written as views/search.html writes it for the server's results.
function noCloseMatch(id, query, shown) {
  const flow = document.createElement("a");
  flow.href = "/flow";
  flow.textContent = "walk through “Should I step in?”";
  const message = document.createElement("p");
  message.className = "empty";
  message.id = id;
  message.append(`No close match for “${query}”.`);
  if (shown) message.append(" These cards come closest.");
  message.append(" Try other words, or ", flow, ".");
  return message;
}

// Results must be on screen within the frame of the keystroke: each card's link is made once
// and reused, and the page is touched only where the answer changed.
function link(found, box, position) {
  box.links ||= new Map();
  let item = box.links.get(position);
  if (!item) {
    item = cardLink(found.cards[position]);
    box.links.set(position, item);
  }
  return item;
}

function render(found, box, query, close, hits) {
  const order = hits.map(([card]) => card).join(",");
  if (box.shown !== order || box.list.childElementCount !== hits.length) {
    box.list.replaceChildren(...hits.map(([card]) => link(found, box, card)));
    box.shown = order;
  }
  const count = query ? `${hits.length} card${hits.length === 1 ? "" : "s"} for “${query}”` : "";
  if (box.count.textContent !== count) box.count.textContent = count;
  const notice = query && !close ? `${query}\n${hits.length > 0}` : "";
  if (box.notice !== notice) {
    document.getElementById(box.none)?.remove();
    if (notice) box.list.before(noCloseMatch(box.none, query, hits.length));
    box.notice = notice;
  }
}

// The address follows the query once typing pauses: browsers limit how often a page may
// rewrite its history entry, and each rewrite costs time a keystroke does not have.
function followAddress(box, query, now = false) {
  clearTimeout(box.addressTimer);
  const write = () => {
    const address = query ? `/search?q=${encodeURIComponent(query)}` : "/search";
    if (window.location.pathname + window.location.search !== address) history.replaceState(null, "", address);
  };
  if (now) write();
  else box.addressTimer = setTimeout(write, ADDRESS_DELAY_MS);
}

function show(found, box, raw, now = false) {
  let query;
  try {
    query = search.checkQuery(raw);
  } catch (error) {
    render(found, box, "", true, []);
    box.count.textContent = error.message;
    return;
  }
  const { close, hits } = query ? search.rank(found.tables, query) : { close: true, hits: [] };
  render(found, box, query, close, hits);
  box.query = query;
  if (box.page) followAddress(box, query, now);
}

async function searchPage(box) {
  const asked = new URLSearchParams(window.location.search).get("q");
  if (asked && !box.input.value) box.input.value = asked;
  const top = document.getElementById("top-q");
  if (asked && top && !top.value) top.value = asked;
  const found = await index();
  if (!found) return;
  box.form.dataset.instant = "on";
  box.input.addEventListener("input", () => show(found, box, box.input.value));
  box.form.addEventListener("submit", (event) => {
    event.preventDefault();
    show(found, box, box.input.value, true);
  });
  // Leaving by a result (or any other way) first writes the address, so Back finds the query.
  const flush = () => box.query !== undefined && followAddress(box, box.query, true);
  box.list.addEventListener("click", flush, { capture: true });
  window.addEventListener("pagehide", flush);
  if (box.input.value) show(found, box, box.input.value, true);
}

function homeBox(box) {
  // The index loads when the officer goes to the box, not with every home page.
  box.input.addEventListener("focus", index, { once: true });
  box.input.addEventListener("input", async () => {
    const found = await index();
    if (!found) return;
    box.form.dataset.instant = "on";
    show(found, box, box.input.value);
  });
}

function start() {
  for (const ids of BOXES) {
    const box = { page: Boolean(ids.page), none: ids.none };
    for (const part of ["form", "input", "list", "count"]) box[part] = document.getElementById(ids[part]);
    if (!box.form || !box.input || !box.list || !box.count) continue;
    if (box.page) searchPage(box);
    else homeBox(box);
  }
}

start();
