// Instant search: results on each keystroke, ranked on this phone from the release saved here
// (the same ranking as the server), so it works with no signal. On the search page and in the
// home page's box. Used only when the saved release is the one this page shows; otherwise, and
// without JavaScript, the forms go to the server's /search.
import "./db.js";
import "./search.js";

const BOXES = [
  // The search page: the results replace the server's, and the address follows the query.
  { form: "search-form", input: "q", list: "results", count: "result-count", none: "no-results", page: true },
  // Home: the results show under the box; Search (or Enter) still opens the search page.
  { form: "home-search", input: "home-q", list: "home-results", count: "home-result-count", none: "home-no-results" },
];
const search = self.fieldguideSearch;
let loading = null;

async function loadIndex() {
  const release = await self.fieldguideDb.get("meta", "release");
  if (!release || String(release.number) !== document.documentElement.dataset.release) return null;
  const cards = await Promise.all(
    release.cards.map(async (entry) => {
      const response = await fetch(`/api/v1/cards/${entry.hash}`);
      if (!response.ok) throw new Error(`card ${entry.id}: ${response.status}`);
      return response.json();
    }),
  );
  return {
    byId: new Map(cards.map((card) => [card.id, card])),
    index: cards.map((c) => search.indexCard(c.id, c.title, c.tags, c.summary, c.text)),
  };
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

function noResults(id) {
  const flow = document.createElement("a");
  flow.href = "/flow";
  flow.textContent = "walk through “Should I step in?”";
  const message = document.createElement("p");
  message.className = "empty";
  message.id = id;
  message.append("No card matches. Try another word, or ", flow, ".");
  return message;
}

function show(found, box, raw) {
  let query;
  try {
    query = search.checkQuery(raw);
  } catch (error) {
    box.count.textContent = error.message;
    box.list.replaceChildren();
    return;
  }
  const results = query ? search.rank(found.index, query) : [];
  box.list.replaceChildren(...results.map(([id]) => cardLink(found.byId.get(id))));
  box.count.textContent = query ? `${results.length} card${results.length === 1 ? "" : "s"} for “${query}”` : "";
  document.getElementById(box.none)?.remove();
  if (query && !results.length) box.list.after(noResults(box.none));
  if (!box.page) return;
  const address = query ? `/search?q=${encodeURIComponent(query)}` : "/search";
  if (window.location.pathname + window.location.search !== address) history.replaceState(null, "", address);
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
    show(found, box, box.input.value);
  });
  if (box.input.value) show(found, box, box.input.value);
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
  if (!search || !self.fieldguideDb) return;
  for (const ids of BOXES) {
    const box = { page: Boolean(ids.page), none: ids.none };
    for (const part of ["form", "input", "list", "count"]) box[part] = document.getElementById(ids[part]);
    if (!box.form || !box.input || !box.list || !box.count) continue;
    if (box.page) searchPage(box);
    else homeBox(box);
  }
}

start();
