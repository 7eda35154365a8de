// Offline pages: the cached shell filled with one page of the release on this device, the way
// the server renders it online (server/web/fragments.py has the marks and the other half).
// A part (see PARTS in sw.js): uses fieldguide.offline, adds fieldguide.compose.
(() => {
  const { offline } = self.fieldguide;
  const MARKS = {
    title: "@@fieldguide:title@@",
    main: "<!--fieldguide:main-->",
    article: "<!--fieldguide:article-->",
    release: "@@fieldguide:release@@",
    etag: "@@fieldguide:etag@@",
  };
  // The tab base.html marks current for a path.
  const TABS = [
    ["guide", (path) => path === "/"],
    ["flow", (path) => path.startsWith("/flow") || path.startsWith("/practice")],
    ["search", (path) => path === "/search"],
  ];
  const KEPT_HEADERS = [
    "content-security-policy",
    "x-content-type-options",
    "referrer-policy",
    "x-frame-options",
    "permissions-policy",
  ];
  const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;" };
  // The release keeps its "what changed" page (against the release before it) at this path.
  const CHANGES_PATH = "/changes";
  const RELEASE_CHANGES = /^\/releases\/([0-9]+)\/changes$/;

  const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => ENTITIES[c]);

  /** The HTML of one page: shell, current tab, title, release and main content. */
  function fill(shellHtml, release, path, page, article) {
    let html = shellHtml.replace("<html ", '<html data-served="device" ');
    const tab = TABS.find(([, current]) => current(path));
    if (tab) html = html.replace(`data-tab="${tab[0]}"`, `data-tab="${tab[0]}" aria-current="page"`);
    const main = page.card ? page.main.replace(MARKS.article, () => article) : page.main;
    return html
      .replace(MARKS.title, () => page.title)
      .replaceAll(MARKS.release, String(release.number))
      .replaceAll(MARKS.etag, escapeHtml(release.etag))
      .replace(MARKS.main, () => main);
  }

  /**
   * The path under which the release keeps the page at url. "What changed" has several
   * addresses (/changes, /changes?to=N&from=N-1, /releases/N/changes): they name the kept
   * page only for the release held, against the one before it (the server's defaults).
   */
  function savedPath(url, release) {
    const numbered = url.pathname.match(RELEASE_CHANGES);
    if (url.pathname !== CHANGES_PATH && !numbered) return url.pathname;
    const is = (raw, number) => !raw || (/^[0-9]+$/.test(raw) && Number(raw) === number);
    const to = url.searchParams.get("to") || (numbered ? numbered[1] : null);
    const held = is(to, release.number) && is(url.searchParams.get("from"), release.number - 1);
    return held ? CHANGES_PATH : null;
  }

  /** The page at url from the release on this device (its "not saved" page if it has none), or null. */
  async function page(url) {
    // Twice at most: a new release may replace the one read between two reads.
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const [release, shell] = await Promise.all([offline.currentRelease(), offline.shell()]);
      if (!release || !shell) return null;
      const path = savedPath(url, release);
      const saved = path === null ? undefined : release.pages[path];
      const entry = saved || release.pages["/offline"];
      const article = entry.card ? await offline.article(entry.card) : "";
      if (article === null) continue;
      const headers = new Headers({ "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" });
      for (const name of KEPT_HEADERS) {
        const value = shell.headers.get(name);
        if (value) headers.set(name, value);
      }
      const html = fill(await shell.text(), release, url.pathname, entry, article);
      return new Response(html, { status: saved ? 200 : 404, headers });
    }
    return null;
  }

  /** For a phone that has not saved the guidance yet. */
  function unsaved() {
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Offline · SRO Field Guide</title></head><body>
<h1>You're offline</h1>
<p>The guidance has not been saved on this phone yet. Connect to the internet and sign in once:
after that the whole guide works with no signal.</p></body></html>`;
    return new Response(html, { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
  }

  self.fieldguide.compose = { page, unsaved };
})();
