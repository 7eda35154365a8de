"""Loading and checking the guidance in content/: cards, categories, sources and the flow."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .rendering import plain_text, render_markdown

AUDIENCES = {"officer", "supervisor", "admin"}
MAX_BODY_WORDS = 150
MAX_FLOW_TAPS = 4
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
REQUIRED_SECTIONS = ("Do", "Don't", "Why")


@dataclass(frozen=True)
class ContentError:
    """One problem found in content/, naming the file and the field."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class ContentInvalid(ValueError):
    """content/ failed its checks."""

    def __init__(self, errors: list[ContentError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


@dataclass
class Content:
    """Everything in content/, checked: cards in display order, categories, sources, flow."""

    cards: list[dict]
    categories: list[dict]
    sources: dict
    flow: dict
    errors: list[ContentError] = field(default_factory=list)


def canonical_json(value) -> str:
    """JSON with sorted keys and no spaces: the form that is hashed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(value) -> str:
    """SHA-256 of a value's canonical JSON."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def split_front_matter(text: str) -> tuple[dict, str]:
    """Split a card file into its YAML front matter and Markdown body."""
    if not text.startswith("---\n"):
        raise ValueError("missing front matter (the file must start with ---)")
    end = text.find("\n---\n", 4)
    if end < 0:
        raise ValueError("front matter is not closed by a --- line")
    meta = yaml.safe_load(text[4:end]) or {}
    if not isinstance(meta, dict):
        raise ValueError("front matter is not a mapping")
    return meta, text[end + 5 :].strip() + "\n"


def card_data(meta: dict, body: str) -> dict:
    """The canonical, hashable form of a card."""
    return {
        "id": meta["id"],
        "title": meta["title"],
        "category": meta["category"],
        "audience": list(meta.get("audience") or []),
        "order": int(meta.get("order", 0)),
        "summary": meta["summary"],
        "tags": [str(t) for t in meta.get("tags") or []],
        "related": list(meta.get("related") or []),
        "source": list(meta.get("source") or []),
        "local_policy": [
            {"id": s["id"], "label": s["label"], "text": s.get("text", "") or ""}
            for s in meta.get("local_policy") or []
        ],
        "body": body,
    }


def word_count(markdown: str) -> int:
    """Words a reader reads in a Markdown text."""
    return len(plain_text(markdown).split())


def canonical_card(card: dict) -> dict:
    """The canonical card data of a stored or loaded card (drops hash, HTML and search text)."""
    return card_data(
        {k: v for k, v in card.items() if k != "body"},
        card["body"],
    )


def check_card_fields(where: str, meta: dict, body: str) -> list[ContentError]:
    """Shape checks of one card: required fields, slug id, sections, word budget, no raw HTML."""
    errors: list[ContentError] = []

    def err(fld: str, msg: str) -> None:
        errors.append(ContentError(where, fld, msg))

    for name in ("id", "title", "category", "summary", "audience", "tags", "source"):
        if not meta.get(name):
            err(name, "is required")
    if errors:
        return errors
    if not SLUG.match(str(meta["id"])):
        err("id", f"{meta['id']!r} is not a lowercase-hyphen slug")
    for name in ("title", "summary", "category"):
        if not isinstance(meta[name], str):
            err(name, "must be text")
    for name in ("audience", "tags", "source", "related", "local_policy"):
        if name in meta and meta[name] is not None and not isinstance(meta[name], list):
            err(name, "must be a list")
    if errors:
        return errors
    bad = set(meta["audience"]) - AUDIENCES
    if bad:
        err("audience", f"unknown {sorted(bad)}; use officer, supervisor or admin")
    seen_slots = set()
    for i, slot in enumerate(meta.get("local_policy") or []):
        if not isinstance(slot, dict) or not slot.get("id") or not slot.get("label"):
            err(f"local_policy[{i}]", "needs an id and a label")
        elif slot["id"] in seen_slots:
            err(f"local_policy[{i}]", f"duplicate slot id {slot['id']!r}")
        else:
            seen_slots.add(slot["id"])
            if _has_html(str(slot.get("text") or "")):
                err(f"local_policy[{i}]", "raw HTML is not allowed; use Markdown")
    headings = re.findall(r"^## (.+)$", body, flags=re.M)
    present = [h.strip() for h in headings if h.strip() in REQUIRED_SECTIONS]
    if present != list(REQUIRED_SECTIONS):
        err("body", "needs the sections '## Do', '## Don't' and '## Why', in that order")
    words = word_count(body)
    if words > MAX_BODY_WORDS:
        err("body", f"{words} words; the budget is {MAX_BODY_WORDS}")
    if _has_html(body):
        err("body", "raw HTML is not allowed; use Markdown")
    return errors


def _has_html(text: str) -> bool:
    return "<" in text and re.search(r"<[a-zA-Z/!]", text) is not None


def check_card_links(
    where: str, card: dict, *, headings: set[str], category_ids: list[str], card_ids: set[str]
) -> list[ContentError]:
    """Checks against the rest of the guidance: known category, real source headings, related cards."""
    errors: list[ContentError] = []
    if card["category"] not in category_ids:
        errors.append(ContentError(where, "category", f"{card['category']!r} is not in categories.yaml"))
    for src in card["source"]:
        if src not in headings:
            errors.append(ContentError(where, "source", f"{src!r} is not a heading in sources.yaml"))
    for rid in card["related"]:
        if rid == card["id"]:
            errors.append(ContentError(where, "related", "a card cannot relate to itself"))
        elif rid not in card_ids:
            errors.append(ContentError(where, "related", f"no card {rid!r}"))
    return errors


def check_card(
    card: dict, *, headings: set[str], category_ids: list[str], card_ids: set[str], where: str = "card"
) -> list[ContentError]:
    """Every check content/ applies to a card, on one card dict (as card_data makes it)."""
    meta = {k: v for k, v in card.items() if k != "body"}
    errors = check_card_fields(where, meta, card.get("body") or "")
    if errors:
        return errors
    return check_card_links(
        where, card_data(meta, card["body"]), headings=headings, category_ids=category_ids, card_ids=card_ids
    )


def source_headings(sources: dict) -> set[str]:
    """The section headings of sources.yaml that a card may cite."""
    return {s.get("heading") for s in sources.get("sections") or [] if s.get("heading")}


def _check_flow(flow: dict, card_ids: set[str], errors: list[ContentError]) -> None:
    rel = "flow.yaml"
    nodes = flow.get("nodes") or {}
    start = flow.get("start")
    if not flow.get("title"):
        errors.append(ContentError(rel, "title", "is required"))
    if start not in nodes:
        errors.append(ContentError(rel, "start", f"{start!r} is not a node"))
        return
    for name, node in nodes.items():
        where = f"nodes.{name}"
        if not SLUG.match(str(name)):
            errors.append(ContentError(rel, where, "node ids must be lowercase-hyphen slugs"))
        if not isinstance(node, dict):
            errors.append(ContentError(rel, where, "must be a mapping"))
            continue
        if "question" in node:
            answers = node.get("answers") or []
            if not 2 <= len(answers) <= 4:
                errors.append(ContentError(rel, f"{where}.answers", "needs 2 to 4 answers"))
            for i, answer in enumerate(answers):
                if not answer.get("label"):
                    errors.append(ContentError(rel, f"{where}.answers[{i}].label", "is required"))
                if answer.get("next") not in nodes:
                    errors.append(
                        ContentError(
                            rel, f"{where}.answers[{i}].next", f"{answer.get('next')!r} is not a node"
                        )
                    )
        elif "outcome" in node:
            if not node.get("detail"):
                errors.append(ContentError(rel, f"{where}.detail", "is required"))
            if node.get("tone") not in {"act", "hold", "care"}:
                errors.append(ContentError(rel, f"{where}.tone", "must be act, hold or care"))
            cards = node.get("cards") or []
            if not cards:
                errors.append(ContentError(rel, f"{where}.cards", "an outcome links to 1-3 cards"))
            for cid in cards:
                if cid not in card_ids:
                    errors.append(ContentError(rel, f"{where}.cards", f"no card {cid!r}"))
        else:
            errors.append(ContentError(rel, where, "needs a question or an outcome"))

    # Walk every path: no cycle, every path ends in an outcome within MAX_FLOW_TAPS taps.
    reached: set[str] = set()

    def walk(name: str, taps: int, path: tuple[str, ...]) -> None:
        if name in path:
            errors.append(ContentError(rel, f"nodes.{name}", "is part of a cycle: " + " → ".join(path + (name,))))
            return
        reached.add(name)
        node = nodes.get(name)
        if not isinstance(node, dict):
            return
        if "outcome" in node:
            return
        if taps >= MAX_FLOW_TAPS:
            errors.append(
                ContentError(rel, f"nodes.{name}", f"path needs more than {MAX_FLOW_TAPS} taps: " + " → ".join(path + (name,)))
            )
            return
        for answer in node.get("answers") or []:
            if answer.get("next") in nodes:
                walk(answer["next"], taps + 1, path + (name,))

    walk(start, 0, ())
    for name in nodes:
        if name not in reached:
            errors.append(ContentError(rel, f"nodes.{name}", "cannot be reached from the start"))


def _load_yaml(path: Path, errors: list[ContentError], root: Path):
    rel = str(path.relative_to(root))
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        errors.append(ContentError(rel, "-", "file is missing"))
    except yaml.YAMLError as exc:
        errors.append(ContentError(rel, "-", f"is not valid YAML: {exc}"))
    return None


def load_content(root: Path, strict: bool = True) -> Content:
    """Read and check content/; raise ContentInvalid (naming file and field) when strict."""
    errors: list[ContentError] = []
    sources = _load_yaml(root / "sources.yaml", errors, root) or {}
    categories = _load_yaml(root / "categories.yaml", errors, root) or []
    flow = _load_yaml(root / "flow.yaml", errors, root) or {}

    headings = source_headings(sources)
    if not headings:
        errors.append(ContentError("sources.yaml", "sections", "lists no headings"))
    category_ids = [c.get("id") for c in categories if isinstance(c, dict)]
    if not category_ids:
        errors.append(ContentError("categories.yaml", "-", "lists no categories"))

    cards: list[dict] = []
    seen: dict[str, str] = {}
    for path in sorted((root / "cards").rglob("*.md")):
        rel = str(path.relative_to(root))
        try:
            meta, body = split_front_matter(path.read_text(encoding="utf-8"))
        except (ValueError, yaml.YAMLError) as exc:
            errors.append(ContentError(rel, "front matter", str(exc)))
            continue
        problems = check_card_fields(rel, meta, body)
        if not problems and Path(rel).stem != meta["id"]:
            problems.append(ContentError(rel, "id", f"{meta['id']!r} does not match the file name"))
        if problems:
            errors.extend(problems)
            continue
        if meta["id"] in seen:
            errors.append(ContentError(rel, "id", f"{meta['id']!r} is also used by {seen[meta['id']]}"))
            continue
        seen[meta["id"]] = rel
        if path.parent.name != meta["category"]:
            errors.append(ContentError(rel, "category", f"file is not in cards/{meta['category']}/"))
        data = card_data(meta, body)
        data["_file"] = rel
        cards.append(data)

    ids = {c["id"] for c in cards}
    for card in cards:
        errors.extend(
            check_card_links(card["_file"], card, headings=headings, category_ids=category_ids, card_ids=ids)
        )
    if flow:
        _check_flow(flow, ids, errors)

    order = {cid: i for i, cid in enumerate(category_ids)}
    cards.sort(key=lambda c: (order.get(c["category"], 99), c["order"], c["title"]))
    for card in cards:
        card.pop("_file")
    if errors and strict:
        raise ContentInvalid(errors)
    return Content(cards=cards, categories=categories, sources=sources, flow=flow, errors=errors)


def render_card(data: dict) -> tuple[str, str, dict]:
    """(hash, body HTML, data with rendered local-policy text) for a card's canonical data."""
    digest = content_hash(data)
    stored = dict(data)
    stored["local_policy"] = [
        dict(slot, html=render_markdown(slot["text"]) if slot["text"] else "")
        for slot in data["local_policy"]
    ]
    return digest, render_markdown(data["body"]), stored
