// Card search with the same ranking as server/search.py, for offline use. Keep the two in
// step: tests/browser/test_search_parity.py compares them query by query.
// A classic script: pages load it with a <script> tag and use self.fieldguideSearch.
(() => {
  const MAX_QUERY_LENGTH = 200;
  const WEIGHTS = [["title", 10], ["tags", 8], ["summary", 4], ["body", 1]];
  const TAG_PHRASE_BONUS = 20;
  const TITLE_PHRASE_BONUS = 10;
  const WORD = /[a-z0-9]+/g;
  const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;
  // The characters Python's str.strip() removes.
  const SPACE = "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
  const STRIP = new RegExp(`^[${SPACE}]+|[${SPACE}]+$`, "g");

  class BadQuery extends Error {}

  /** Fold a simple plural so "cuffs" finds "cuff". */
  function stem(word) {
    return word.length > 3 && word.endsWith("s") && !word.endsWith("ss") ? word.slice(0, -1) : word;
  }

  /** Lower-case, stemmed words of a text. */
  function words(text) {
    return (text.toLowerCase().match(WORD) || []).map(stem);
  }

  /** The query stripped, or BadQuery when it is too long or holds control characters. */
  function checkQuery(raw) {
    if ([...raw].length > MAX_QUERY_LENGTH) {
      throw new BadQuery(`Search text is limited to ${MAX_QUERY_LENGTH} characters.`);
    }
    if (CONTROL.test(raw)) throw new BadQuery("Search text contains control characters.");
    return raw.replace(STRIP, "");
  }

  /** Precompute the words of each field of one card. */
  function indexCard(cardId, title, tags, summary, bodyText) {
    return {
      cardId,
      fields: {
        title: new Set(words(title)),
        tags: new Set(tags.flatMap(words)),
        summary: new Set(words(summary)),
        body: new Set(words(bodyText)),
      },
      tagPhrases: new Set(tags.map((t) => words(t).join(" "))),
      titlePhrase: words(title).join(" "),
    };
  }

  function wordScore(word, fieldWords) {
    if (fieldWords.has(word)) return 1;
    if (word.length >= 3) {
      for (const w of fieldWords) if (w.startsWith(word)) return 0.5;
    }
    return 0;
  }

  /** [card id, score] of every matching card, best first; ties keep the release's order. */
  function rank(index, query) {
    const queryWords = words(query);
    if (!queryWords.length) return [];
    const phrase = queryWords.join(" ");
    const results = [];
    index.forEach((item, position) => {
      let total = 0;
      for (const word of queryWords) {
        let best = 0;
        for (const [name, weight] of WEIGHTS) best = Math.max(best, weight * wordScore(word, item.fields[name]));
        if (best === 0) return;
        total += best;
      }
      if (item.tagPhrases.has(phrase)) total += TAG_PHRASE_BONUS;
      if (` ${item.titlePhrase} `.includes(` ${phrase} `)) total += TITLE_PHRASE_BONUS;
      results.push([position, item.cardId, total]);
    });
    results.sort((a, b) => b[2] - a[2] || a[0] - b[0]);
    return results.map(([, cardId, score]) => [cardId, score]);
  }

  self.fieldguideSearch = { BadQuery, stem, words, checkQuery, indexCard, rank, MAX_QUERY_LENGTH };
})();
