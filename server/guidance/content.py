"""Loading and checking the guidance in content/: cards, categories, sources and the flow."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from server.guidance import provenance
from server.guidance.cards import CardData, ReleasedCard
from server.guidance.content_errors import ContentError, ContentInvalid, line_of
from server.guidance.lexicon import LEXICON_FILE, check_lexicon, load_lexicon
from server.guidance.rendering import plain_text, render_card_body, render_markdown
from server.guidance.scenarios import load_scenarios

AUDIENCES = {"officer", "supervisor", "admin"}
MAX_BODY_WORDS = 150
# Taps from the home screen to a flow outcome, the tap on "Should I step in?" included.
MAX_FLOW_TAPS = 4
FLOW_TONES = {"act", "hold", "care", "relate", "policy"}
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
REQUIRED_SECTIONS = ("Do", "Don't", "Why")


@dataclass
class Content:
    """Everything in content/, checked: cards in display order, categories, sources, flow, practice scenarios."""

    cards: list[CardData]
    categories: list[dict]
    sources: dict
    flow: dict
    errors: list[ContentError] = field(default_factory=list)
    scenarios: list[dict] = field(default_factory=list)

    @property
    def passages(self) -> dict[str, provenance.Passage]:
        """The statement's passages that cards and the flow cite, by id."""
        return provenance.passages_of(self.sources)


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


def card_data(meta: dict, body: str) -> CardData:
    """The canonical, hashable form of a card."""
    return {
        "id": meta["id"],
        "title": meta["title"],
        "category": meta["category"],
        "audience": list(meta.get("audience") or []),
        "order": int(meta.get("order", 0)),
        "summary": meta["summary"],
        "summary_source": [str(s) for s in meta.get("summary_source") or []],
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


def canonical_card(card: CardData | ReleasedCard) -> CardData:
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
    for name in ("audience", "tags", "source", "related", "local_policy", "summary_source"):
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



def check_flow_outcome(
    where: str, node: dict, card_slots: dict[str, set[str]], passages: dict, raw: str = ""
) -> list[ContentError]:
    """An outcome's answer, tone, cards, ties to the statement and local-policy blocks."""
    rel = "flow.yaml"
    errors = []
    if not node.get("detail"):
        errors.append(ContentError(rel, f"{where}.detail", "is required"))
    if node.get("tone") not in FLOW_TONES:
        errors.append(ContentError(rel, f"{where}.tone", "must be one of " + ", ".join(sorted(FLOW_TONES))))
    cards = node.get("cards") or []
    if not 1 <= len(cards) <= 3:
        errors.append(ContentError(rel, f"{where}.cards", "an outcome links to 1-3 cards"))
    for cid in cards:
        if cid not in card_slots:
            errors.append(ContentError(rel, f"{where}.cards", f"no card {cid!r}"))
    policy = node.get("policy") or []
    for ref in policy:
        cid, _, slot = str(ref).partition("/")
        if slot not in card_slots.get(cid, ()):
            errors.append(ContentError(rel, f"{where}.policy", f"{ref!r} is not a card's local-policy block (card/slot)"))
    ties = node.get("outcome_source")
    for problem in provenance.check_ties(tuple(ties) if ties else None, passages, allow_local=bool(policy)):
        errors.append(ContentError(rel, f"{where}.outcome_source", f"the outcome {problem}"))
    for line in provenance.reading_lines(str(node.get("detail") or "")):
        for problem in provenance.check_ties(line.ties, passages, allow_local=bool(policy)):
            at = line_of(raw, line.text) or f"{where}.detail line {line.number}"
            errors.append(ContentError(rel, at, f"{line.text[:50]!r} {problem}"))
    if not any(line.passages for line in provenance.reading_lines(str(node.get("detail") or ""))) and not (
        ties and any(t not in provenance.KINDS for t in ties)
    ):
        errors.append(ContentError(rel, where, "an outcome must rest on at least one passage of the statement"))
    return errors


def _check_flow(
    flow: dict, card_slots: dict[str, set[str]], errors: list[ContentError], passages: dict, raw: str = ""
) -> None:
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
            errors.extend(check_flow_outcome(where, node, card_slots, passages, raw))
        else:
            errors.append(ContentError(rel, where, "needs a question or an outcome"))

    # Walk every path: no cycle, every path ends in an outcome within MAX_FLOW_TAPS taps.
    reached: set[str] = set()

    def walk(name: str, taps: int, path: tuple[str, ...]) -> None:
        # Every path to an outcome with police action first asks about special needs / an IEP.
        if name in path:
            errors.append(ContentError(rel, f"nodes.{name}", "is part of a cycle: " + " → ".join(path + (name,))))
            return
        reached.add(name)
        node = nodes.get(name)
        if not isinstance(node, dict):
            return
        if "outcome" in node:
            asked = any((nodes.get(p) or {}).get("asks") == "special-needs" for p in path)
            if node.get("police_action") and not asked:
                errors.append(
                    ContentError(
                        rel,
                        f"nodes.{name}",
                        "a police-action outcome reached without asking about special needs: "
                        + " → ".join(path + (name,)),
                    )
                )
            return
        if taps >= MAX_FLOW_TAPS:
            errors.append(
                ContentError(
                    rel,
                    f"nodes.{name}",
                    f"path needs more than {MAX_FLOW_TAPS} taps from home: " + " → ".join(("home",) + path + (name,)),
                )
            )
            return
        for answer in node.get("answers") or []:
            if answer.get("next") in nodes:
                walk(answer["next"], taps + 1, path + (name,))

    walk(start, 1, ())  # the tap on "Should I step in?" from home is the first
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


def check_card_ties(rel: str, card: dict, passages: dict, text: str) -> list[ContentError]:
    """Every line a reader reads of a base card rests on passages of the statement, or is marked.

    Names the file and the line. The answer's ties are `summary_source`; the sections the
    passages are in must be the card's `source` list, so the two cannot drift apart.
    """
    errors = []
    has_slots = bool(card["local_policy"])
    body_start = text.count("\n", 0, text.index(card["body"].strip()[:40])) if card["body"].strip() else 0
    summary_line = line_of(text, "summary:") or "summary_source"
    for problem in provenance.check_ties(tuple(card["summary_source"]) or None, passages, allow_local=has_slots):
        errors.append(ContentError(rel, summary_line, f"the answer (summary) {problem}; list them in summary_source"))
    ties = [tuple(card["summary_source"])]
    for line in provenance.reading_lines(card["body"].strip()):
        ties.append(line.ties or ())
        for problem in provenance.check_ties(line.ties, passages, allow_local=has_slots):
            errors.append(ContentError(rel, f"line {body_start + line.number}", f"{line.text[:50]!r} {problem}"))
    cited = provenance.sections_cited(ties, passages)
    if set(cited) != set(card["source"]):
        errors.append(
            ContentError(
                rel,
                "source",
                f"lists {sorted(card['source'])} but its lines cite passages of {sorted(cited)}; make them agree",
            )
        )
    return errors


def load_content(root: Path, strict: bool = True) -> Content:
    """Read and check content/; raise ContentInvalid (naming file and field) when strict."""
    errors: list[ContentError] = []
    sources = _load_yaml(root / "sources.yaml", errors, root) or {}
    categories = _load_yaml(root / "categories.yaml", errors, root) or []
    flow = _load_yaml(root / "flow.yaml", errors, root) or {}

    headings = source_headings(sources)
    if not headings:
        errors.append(ContentError("sources.yaml", "sections", "lists no headings"))
    statement = provenance.load_statement(root, sources) if sources else None
    if sources and statement is None:
        errors.append(ContentError("statement.txt", "-", "file is missing: the statement's text must ship in content/"))
    elif statement is not None:
        for fld, message in provenance.check_sources(sources, statement):
            errors.append(ContentError("sources.yaml", fld, message))
    passages = provenance.passages_of(sources)
    category_ids = [c.get("id") for c in categories if isinstance(c, dict)]
    if not category_ids:
        errors.append(ContentError("categories.yaml", "-", "lists no categories"))

    cards: list[dict] = []
    seen: dict[str, str] = {}
    for path in sorted((root / "cards").rglob("*.md")):
        rel = str(path.relative_to(root))
        text = path.read_text(encoding="utf-8")
        try:
            meta, body = split_front_matter(text)
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
        errors.extend(check_card_ties(rel, data, passages, text))
        data["_file"] = rel
        cards.append(data)

    ids = {c["id"] for c in cards}
    for card in cards:
        errors.extend(
            check_card_links(card["_file"], card, headings=headings, category_ids=category_ids, card_ids=ids)
        )
    errors.extend(check_lexicon(load_lexicon(root / LEXICON_FILE), cards))
    if flow:
        slots = {c["id"]: {s["id"] for s in c["local_policy"]} for c in cards}
        raw_flow = (root / "flow.yaml").read_text(encoding="utf-8")
        _check_flow(flow, slots, errors, passages, raw_flow)
    scenarios, problems = load_scenarios(root, passages, flow)
    errors.extend(problems)

    order = {cid: i for i, cid in enumerate(category_ids)}
    cards.sort(key=lambda c: (order.get(c["category"], 99), c["order"], c["title"]))
    for card in cards:
        card.pop("_file")
    if errors and strict:
        raise ContentInvalid(errors)
    return Content(cards=cards, categories=categories, sources=sources, flow=flow, errors=errors, scenarios=scenarios)


def longest_flow_path(flow: dict) -> int:
    """Taps from home to the farthest flow outcome, the tap on "Should I step in?" included."""
    nodes = flow.get("nodes") or {}

    def depth(name: str, seen: frozenset) -> int:
        node = nodes.get(name)
        if not isinstance(node, dict) or "outcome" in node or name in seen:
            return 0
        return 1 + max((depth(a.get("next"), seen | {name}) for a in node.get("answers") or []), default=0)

    return 1 + depth(flow.get("start"), frozenset())


def tie_counts(content: Content) -> dict[str, int]:
    """How many lines of the base cards and flow outcomes rest on passages, are framing only, or local only."""
    groups: list[tuple[str, ...]] = []
    for card in content.cards:
        groups.append(tuple(card["summary_source"]))
        groups.extend(line.ties or () for line in provenance.reading_lines(card["body"]))
    for node in (content.flow.get("nodes") or {}).values():
        if isinstance(node, dict) and "outcome" in node:
            groups.append(tuple(node.get("outcome_source") or ()))
            groups.extend(line.ties or () for line in provenance.reading_lines(str(node.get("detail") or "")))
    counts = {"passages": 0, "framing": 0, "local": 0, "untied": 0}
    for ties in groups:
        if any(t not in provenance.KINDS for t in ties):
            counts["passages"] += 1
        elif provenance.FRAMING in ties:
            counts["framing"] += 1
        elif provenance.LOCAL in ties:
            counts["local"] += 1
        else:
            counts["untied"] += 1
    return counts


def render_card(data: CardData) -> tuple[str, str, dict]:
    """(hash, body HTML, data with rendered local-policy text) for a card's canonical data."""
    digest = content_hash(data)
    stored = dict(data)
    stored["local_policy"] = [
        dict(slot, html=render_markdown(slot["text"]) if slot["text"] else "")
        for slot in data["local_policy"]
    ]
    return digest, render_card_body(data["body"]), stored
