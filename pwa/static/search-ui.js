// Instant search on the search page: results on each keystroke, ranked on this phone from the
// release saved here (the same ranking as the server), so it works with no signal. Used only
// when the saved release is the one this page shows; otherwise the form goes to the server.
import "./db.js";
import "./search.js";

const form = document.getElementById("search-form");
const input = document.getElementById("q");
const list = document.getElementById("results");
const count = document.getElementById("result-count");
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

function noResults() {
  const flow = document.createElement("a");
  flow.href = "/flow";
  flow.textContent = "walk through “Should I step in?”";
  const message = document.createElement("p");
  message.className = "empty";
  message.id = "no-results";
  message.append("No card matches. Try another word, or ", flow, ".");
  return message;
}

function show(found, raw) {
  let query;
  try {
    query = search.checkQuery(raw);
  } catch (error) {
    count.textContent = error.message;
    list.replaceChildren();
    return;
  }
  const results = query ? search.rank(found.index, query) : [];
  list.replaceChildren(...results.map(([id]) => cardLink(found.byId.get(id))));
  count.textContent = query ? `${results.length} card${results.length === 1 ? "" : "s"} for “${query}”` : "";
  document.getElementById("no-results")?.remove();
  if (query && !results.length) list.after(noResults());
  const address = query ? `/search?q=${encodeURIComponent(query)}` : "/search";
  if (window.location.pathname + window.location.search !== address) history.replaceState(null, "", address);
}

async function start() {
  if (!form || !input || !list || !count || !search || !self.fieldguideDb) return;
  loading = loadIndex().catch(() => null);
  const asked = new URLSearchParams(window.location.search).get("q");
  if (asked && !input.value) input.value = asked;
  const top = document.getElementById("top-q");
  if (asked && top && !top.value) top.value = asked;
  const found = await loading;
  if (!found) return;
  form.dataset.instant = "on";
  input.addEventListener("input", () => show(found, input.value));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    show(found, input.value);
  });
  if (input.value) show(found, input.value);
}

start();
