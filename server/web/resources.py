"""Shared resources: templates and hashed static asset URLs (kept apart so imports never loop)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.templating import Jinja2Templates


class Assets:
    """Content hashes of the files under pwa/static, for cache-busting URLs."""

    def __init__(self, root: Path):
        self.root = root
        self.hashes = {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()[:12]
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

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
