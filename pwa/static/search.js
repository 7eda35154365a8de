// Answering a query from the search index shipped with the release: the browser side of
// server/search.py, which documents the ranking. The server builds the index (stemming,
// lexicon, weights); this only normalizes the query, looks its words up and sums. Keep the two
// in step: tests/browser/test_search_parity.py compares them query by query.
// A classic script with no exports: search-ui.js imports it for its effect and uses
// self.fieldguideSearch.
(() => {
  const MAX_QUERY_LENGTH = 200;
  const PREFIX_MIN = 3;
  const TYPO_MIN = 5;
  const PREFIX = 0.5;
  const TYPO = 0.75;
  const CLOSE_COVERAGE = 0.5;
  const CLOSEST_SHOWN = 5;
  const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
  const LEXICON_MARK = "+";
  const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;
  const POSSESSIVE = /['\u2019]s(?![a-z0-9])/g;
  const APOSTROPHE = /['\u2019]/g;
  const WORD = /[a-z0-9]+/g;
  // The characters Python's str.strip() removes.
  const SPACE = "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
  const STRIP = new RegExp(`^[${SPACE}]+|[${SPACE}]+$`, "g");

  class BadQuery extends Error {}

  /** The query stripped, or BadQuery when it is too long or holds control characters. */
  function checkQuery(raw) {
    if ([...raw].length > MAX_QUERY_LENGTH) {
      throw new BadQuery(`Search text is limited to ${MAX_QUERY_LENGTH} characters.`);
    }
    if (CONTROL.test(raw)) throw new BadQuery("Search text contains control characters.");
    return raw.replace(STRIP, "");
  }

  /** The words of a text as search sees them: lower case, apostrophes folded. */
  function tokens(text) {
    return text.toLowerCase().replace(POSSESSIVE, "").replace(APOSTROPHE, "").match(WORD) || [];
  }

  /** Every string one Damerau edit away from a word (over letters and digits). */
  function edits(word) {
    const out = new Set();
    for (let i = 0; i <= word.length; i++) {
      const head = word.slice(0, i);
      const tail = word.slice(i);
      if (tail) {
        out.add(head + tail.slice(1));
        if (tail.length > 1) out.add(head + tail[1] + tail[0] + tail.slice(2));
        for (const c of ALPHABET) out.add(head + c + tail.slice(1));
      }
      for (const c of ALPHABET) out.add(head + c + tail);
    }
    out.delete(word);
    return out;
  }

  /** Unpack a shipped index: forms by word, postings and weight by term, the longest phrase. */
  function prepare(shipped) {
    const forms = new Map();
    for (const [term, written] of Object.entries(shipped.forms)) {
      for (const form of written.split(" ")) forms.set(form.startsWith("-") ? term + form.slice(1) : form, term);
    }
    const postings = new Map(Object.entries(shipped.postings));
    const weights = new Map();
    for (const [key, posting] of postings) weights.set(key, shipped.idf[posting.length >> 1]);
    for (const [keys, posting, df] of shipped.lexicon) {
      for (const key of keys.split("|")) {
        postings.set(LEXICON_MARK + key, posting);
        weights.set(LEXICON_MARK + key, shipped.idf[df]);
      }
    }
    for (const [key, df] of Object.entries(shipped.df)) weights.set(key, shipped.idf[df]);
    let phraseMax = 1;
    for (const key of postings.keys()) {
      if (key.includes(" ")) phraseMax = Math.max(phraseMax, key.split(" ").length);
    }
    // Code-point order, as Python sorts: forms are ASCII letters and digits only.
    const sortedForms = [...forms.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const stop = new Set(shipped.stop.split(" "));
    return { cards: shipped.cards, idf: shipped.idf, stop, forms, sortedForms, postings, weights, phraseMax };
  }

  function add(candidates, key, factor) {
    if (factor > (candidates.get(key) || 0)) candidates.set(key, factor);
  }

  function firstAtLeast(sorted, word) {
    let low = 0;
    let high = sorted.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (sorted[mid] < word) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** Each content word of the query with its candidate terms and their factors. */
  function units(tables, query) {
    const words = tokens(query);
    const keys = words.map((w) => (tables.stop.has(w) ? w : tables.forms.get(w) ?? w));
    const found = new Map();
    const last = words.length - 1;
    words.forEach((word, i) => {
      if (tables.stop.has(word)) return;
      const candidates = new Map();
      const term = tables.forms.get(word);
      if (term !== undefined) candidates.set(term, 1);
      else if (i === last && word.length < PREFIX_MIN) return; // still being typed
      else if (word.length >= TYPO_MIN) {
        for (const variant of edits(word)) {
          if (tables.forms.has(variant)) add(candidates, tables.forms.get(variant), TYPO);
        }
      }
      if (i === last && word.length >= PREFIX_MIN) {
        for (let at = firstAtLeast(tables.sortedForms, word); at < tables.sortedForms.length; at++) {
          const form = tables.sortedForms[at];
          if (!form.startsWith(word)) break;
          if (form !== word) add(candidates, tables.forms.get(form), PREFIX);
        }
      }
      for (const [key, factor] of [...candidates]) {
        if (tables.postings.has(LEXICON_MARK + key)) add(candidates, LEXICON_MARK + key, factor);
      }
      found.set(i, candidates);
    });
    for (let start = 0; start < words.length; start++) {
      for (let length = 2; length <= tables.phraseMax && start + length <= words.length; length++) {
        const phrase = LEXICON_MARK + keys.slice(start, start + length).join(" ");
        if (!tables.postings.has(phrase)) continue;
        for (let i = start; i < start + length; i++) if (found.has(i)) add(found.get(i), phrase, 1);
      }
    }
    return [...found.keys()].sort((a, b) => a - b).map((i) => found.get(i));
  }

  /** {close, hits: [[card position, score], ...]} best first; ties keep the release's order. */
  function rank(tables, query) {
    const total = new Array(tables.cards).fill(0);
    const matched = new Array(tables.cards).fill(0);
    let knownWeight = 0;
    let known = 0;
    let unknown = 0;
    for (const candidates of units(tables, query)) {
      const best = new Map();
      let weight = 0;
      for (const [key, factor] of candidates) {
        const posting = tables.postings.get(key);
        if (!posting || !posting.length) continue;
        weight = Math.max(weight, factor * tables.weights.get(key));
        for (let j = 0; j < posting.length; j += 2) {
          const value = factor * posting[j + 1];
          if (value > (best.get(posting[j]) || 0)) best.set(posting[j], value);
        }
      }
      if (weight === 0) {
        unknown += 1;
        continue;
      }
      known += 1;
      knownWeight += weight;
      for (const [card, value] of best) {
        total[card] += value;
        matched[card] += weight;
      }
    }
    if (!known) return { close: false, hits: [] };
    // A word nothing knows weighs as much as the average word that is known.
    const weightSum = knownWeight + unknown * (knownWeight / known);
    const hits = [];
    for (let card = 0; card < tables.cards; card++) {
      if (total[card] > 0) hits.push([card, total[card] * (matched[card] / weightSum)]);
    }
    hits.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    const close = hits.some(([card]) => matched[card] / weightSum >= CLOSE_COVERAGE);
    return { close, hits: close ? hits : hits.slice(0, CLOSEST_SHOWN) };
  }

  self.fieldguideSearch = { checkQuery, prepare, rank };
})();
