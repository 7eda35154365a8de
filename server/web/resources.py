"""Shared resources: templates and hashed static asset URLs (kept apart so imports never loop)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.templating import Jinja2Templates

# The files of pwa/static that no page the service worker keeps offline loads, and why. Every
# other file is in the precache list: a new file the shell loads works offline without a word
# here (tests/browser/test_precache.py checks the list is exactly what the shell loads).
NOT_PRECACHED = {
    "editor.js": "the admin's card editor, an online-only page",
    "icons/icon-192.png": "install and notification icon, fetched by the browser itself",
    "icons/icon-512.png": "install icon, fetched by the browser itself",
    "icons/icon-maskable-512.png": "install icon, fetched by the browser itself",
}


class Assets:
    """Content hashes of the files under pwa/static, for cache-busting URLs, and the list of
    them the service worker keeps for the offline shell."""

    def __init__(self, root: Path):
        self.root = root
        self.hashes = {
            p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()[:12]
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }
        urls = [self.url(name) for name in self.hashes if name not in NOT_PRECACHED]
        version = hashlib.sha256("\n".join(urls).encode()).hexdigest()[:16]
        #: GET /sw/assets.json: {version, assets}, the hashed URL of every file the shell and its
        #: modules load; version changes whenever one of them does.
        self.precache = {"version": version, "assets": urls}

    def url(self, name: str) -> str:
        """/static/NAME?v=HASH; the hash makes the URL safe to cache forever."""
        return f"/static/{name}?v={self.hashes[name]}"

    def is_current(self, name: str, version: str | None) -> bool:
        return version is not None and self.hashes.get(name) == version


def make_templates(pwa_dir: Path, assets: Assets) -> Jinja2Templates:
    """The Jinja2 templates of pwa/templates with the app's helpers."""
    env = Environment(
        loader=FileSystemLoader(pwa_dir / "templates"),
        autoescape=select_autoescape(["html", "xml", "svg"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["asset"] = assets.url
    return Jinja2Templates(env=env)
