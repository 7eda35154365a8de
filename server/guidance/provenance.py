"""Where each line of guidance comes from: the statement's passages, framing, or the agency.

A line of a base card ends with a tie, `[§ passage-id, passage-id]`, naming the verbatim
passages of the statement (content/sources.yaml, checked against content/statement.txt) it
rests on. Two words stand in for a passage: `framing` (navigation, "ask your supervisor",
what the statement does not say) and `local` (the line points to the card's local-policy
block). A card's one-line answer is tied the same way by its `summary_source` list, a flow
outcome by `outcome_source` and a tie at the end of each line of its `detail`.

A line with no tie is the agency's own. Agencies cannot write ties: an edit keeps a tie only
on a line it leaves exactly as it was, so a tied line is always the NASRO text it was
checked as.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from server.guidance.cards import CardData

FRAMING = "framing"
LOCAL = "local"
KINDS = (FRAMING, LOCAL)
TIE = re.compile(r"[ \t]*\[§([^\]\n]*)\][ \t]*$")
ANY_TIE = re.compile(r"[ \t]*\[§[^\]\n]*\]")
HEADING = re.compile(r"^#{1,6}\s")
# Put at the end of each agency line of a NASRO card before rendering, then turned into a
# visible label; typed text cannot carry it (clean_text removes its invisible separators).
AGENCY_MARK = "\u2063agency\u2063"
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "•": " "})


@dataclass(frozen=True)
class Line:
    """One line a reader reads: its number in the text (1-based), words, and ties (None: untied)."""

    number: int
    text: str
    ties: tuple[str, ...] | None

    @property
    def passages(self) -> tuple[str, ...]:
        """The passage ids among the ties (not framing or local)."""
        return tuple(t for t in self.ties or () if t not in KINDS)


def split_tie(line: str) -> tuple[str, tuple[str, ...] | None]:
    """(text without its tie, the tie's ids) of one line; ids None when the line has no tie."""
    match = TIE.search(line)
    if match is None:
        return line, None
    ids = tuple(part.strip() for part in match.group(1).split(",") if part.strip())
    return line[: match.start()], ids


def strip_ties(text: str) -> str:
    """The text as a reader sees it: every tie removed."""
    return ANY_TIE.sub("", text)


def clean_text(text: str) -> str:
    """Typed text with the invisible separator removed, so no one can forge an agency mark."""
    return text.replace("\u2063", "")


def reading_lines(text: str) -> list[Line]:
    """The lines of a Markdown text that a reader reads (not blank, not a heading)."""
    lines = []
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip() or HEADING.match(raw):
            continue
        words, ties = split_tie(raw)
        lines.append(Line(number, words.strip(), ties))
    return lines


def is_nasro_card(card: dict) -> bool:
    """Whether a card carries NASRO text (any tie), as against a card the agency wrote."""
    return bool(card.get("summary_source")) or any(
        line.ties is not None for line in reading_lines(card.get("body") or "")
    )


def mark_agency_lines(body: str) -> str:
    """The body with each untied line of a NASRO card marked as the agency's, and ties removed."""
    if not any(line.ties is not None for line in reading_lines(body)):
        return body
    out = []
    for raw in clean_text(body).split("\n"):
        words, ties = split_tie(raw)
        if raw.strip() and not HEADING.match(raw) and ties is None:
            out.append(words.rstrip() + " " + AGENCY_MARK)
        else:
            out.append(words)
    return "\n".join(out)


def normalize(text: str) -> str:
    """Text folded for a verbatim comparison: quotes, dashes, bullets and spacing aside."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return " ".join(text.split())


@dataclass(frozen=True)
class Passage:
    """A verbatim passage of the statement, with the section it is in."""

    id: str
    text: str
    section: str
    heading: str


def passages_of(sources: dict) -> dict[str, Passage]:
    """Every passage of sources.yaml by id."""
    found = {}
    for section in sources.get("sections") or []:
        for pid, text in (section.get("passages") or {}).items():
            found[str(pid)] = Passage(str(pid), str(text), section.get("id", ""), section.get("heading", ""))
    return found


def check_sources(sources: dict, statement: str) -> list[tuple[str, str]]:
    """(field, message) for every heading or passage of sources.yaml not found in the statement."""
    problems = []
    folded = normalize(statement)
    lines = {normalize(line) for line in statement.split("\n") if line.strip()}
    seen: set[str] = set()
    for i, section in enumerate(sources.get("sections") or []):
        where = f"sections[{i}]"
        heading = section.get("heading")
        if not heading:
            problems.append((f"{where}.heading", "is required"))
        elif not section.get("untitled") and normalize(heading) not in lines:
            problems.append((f"{where}.heading", f"{heading!r} is not a heading of the statement"))
        passages = section.get("passages") or {}
        if not passages:
            problems.append((f"{where}.passages", "a section needs at least one passage"))
        for pid, text in passages.items():
            if pid in seen:
                problems.append((f"{where}.passages.{pid}", "passage id used twice"))
            seen.add(pid)
            if pid in KINDS:
                problems.append((f"{where}.passages.{pid}", f"{pid!r} is reserved"))
            if not str(text).strip() or normalize(str(text)) not in folded:
                problems.append((f"{where}.passages.{pid}", "is not found word for word in the statement"))
    return problems


def check_ties(ties: tuple[str, ...] | None, passages: dict[str, Passage], *, allow_local: bool) -> list[str]:
    """Why a line's ties are not acceptable (empty when they are)."""
    if ties is None:
        return ["has no tie: end it with [§ passage-id] (or [§ framing] / [§ local])"]
    if not ties:
        return ["has an empty tie"]
    problems = []
    for tie in ties:
        if tie == LOCAL and not allow_local:
            problems.append("points to local policy, but there is no local-policy block here")
        elif tie not in KINDS and tie not in passages:
            problems.append(f"cites {tie!r}, which is not a passage in sources.yaml")
    return problems


def sections_cited(ties: list[tuple[str, ...]], passages: dict[str, Passage]) -> list[str]:
    """The section headings the passages among these ties are in, in the statement's order."""
    order = {p.heading: i for i, p in enumerate(passages.values())}
    headings = {passages[t].heading for group in ties for t in group if t in passages}
    return sorted(headings, key=lambda h: order.get(h, 0))


def _line(part: str, text: str, ties: tuple[str, ...] | None, since: int | None = None) -> dict:
    return {"part": part, "text": text, "ties": ties or (), "agency": ties is None, "since": since}


def grouped(lines: list[dict], passages: dict[str, Passage]) -> dict:
    """Lines grouped for "Where the statement says this": under each passage (once, in the
    statement's order) the lines resting on it; then framing lines, lines that point to local
    policy, and the agency's own lines."""
    order = list(passages)
    cited = sorted({t for line in lines for t in line["ties"] if t in passages}, key=order.index)
    return {
        "groups": [
            {
                "passage": passages[pid],
                "lines": [line for line in lines if pid in line["ties"]],
            }
            for pid in cited
        ],
        "framing": [line for line in lines if FRAMING in line["ties"]],
        "local": [line for line in lines if LOCAL in line["ties"] and not any(t in passages for t in line["ties"])],
        "agency": [line for line in lines if line["agency"]],
        "tied": bool(cited),
    }


def card_sources(card: CardData, passages: dict[str, Passage], origins: dict | None = None) -> dict:
    """Where each line of a card comes from, for "Where the statement says this".

    origins: {"lines": {text: release}, "summary": release, "slots": {id: release}} from the
    release; an agency line is shown with the release that introduced it when it is known.
    """
    nasro = is_nasro_card(card)
    if origins is None and not nasro:
        # Published before lines were tied: which lines are NASRO's is not recorded.
        return {"legacy": True, "groups": [], "framing": [], "local": [], "agency": [], "slots": [], "tied": False}
    origins = origins or {}
    line_origins = origins.get("lines") or {}
    summary_ties = tuple(card.get("summary_source") or ()) or None
    lines = [_line("Answer", card["summary"], summary_ties, origins.get("summary") if summary_ties is None else None)]
    part = ""
    for raw in (card.get("body") or "").split("\n"):
        if HEADING.match(raw):
            part = raw.lstrip("#").strip()
            continue
        if not raw.strip():
            continue
        words, ties = split_tie(raw)
        text = words.strip().removeprefix("- ").removeprefix("* ").strip()
        lines.append(_line(part, strip_ties(text), ties, line_origins.get(words.strip()) if ties is None else None))
    view = grouped(lines, passages)
    view["legacy"] = False
    view["slots"] = [
        {"label": s["label"], "since": (origins.get("slots") or {}).get(s["id"])}
        for s in card.get("local_policy") or []
        if s.get("text")
    ]
    return view


def outcome_sources(node: dict, passages: dict[str, Passage]) -> dict:
    """A flow outcome's points (ties removed) and where each of its lines comes from."""
    ties = tuple(node.get("outcome_source") or ()) or None
    detail = reading_lines(str(node.get("detail") or ""))
    # An outcome is NASRO's text: an untied line (a release published before ties) is not the agency's.
    lines = [_line("Outcome", node.get("outcome", ""), ties or ())]
    lines += [_line("", line.text, line.ties or ()) for line in detail]
    view = grouped(lines, passages)
    view.update(points=[line.text for line in detail], legacy=False, slots=[])
    return view


def release_origins(card: CardData, number: int, before: CardData | None, previous: dict | None) -> dict:
    """Which release introduced each agency-written part of a card being published as release `number`.

    before: the card's data in the previous release (None if it was not there); previous: the
    origins recorded for it then.
    """
    previous = previous or {}
    old_lines = previous.get("lines") or {}
    old_body = {line.text for line in reading_lines((before or {}).get("body") or "") if line.ties is None}
    lines = {}
    for line in reading_lines(card.get("body") or ""):
        if line.ties is None:
            kept = line.text in old_body and line.text in old_lines
            lines[line.text] = old_lines[line.text] if kept else number
    origins: dict = {"lines": lines}
    if not card.get("summary_source"):
        same = before is not None and before.get("summary") == card.get("summary")
        origins["summary"] = previous.get("summary") if same and previous.get("summary") else number
    old_slots = {s["id"]: s.get("text") for s in (before or {}).get("local_policy") or []}
    slots = {}
    for slot in card.get("local_policy") or []:
        if slot.get("text"):
            same = old_slots.get(slot["id"]) == slot["text"]
            kept = (previous.get("slots") or {}).get(slot["id"])
            slots[slot["id"]] = kept if same and kept else number
    origins["slots"] = slots
    return origins


def drop_written_ties(card: CardData, *references: CardData | None) -> CardData:
    """The card with every tie an edit wrote or moved removed: a tie stays only on an unchanged line.

    references: the versions the edit started from (the published card, the draft's copy, a
    NASRO update); a tied line or answer survives when one of them has it exactly. A NASRO line
    the agency rewrites becomes the agency's line (shown as its policy), and so does an answer
    it rewrites: nothing an agency types can claim the statement's authority.
    """
    known = [r for r in references if r]
    old = {raw.strip() for r in known for raw in (r.get("body") or "").split("\n") if TIE.search(raw)}
    body = []
    for raw in clean_text(card.get("body") or "").split("\n"):
        if TIE.search(raw) and raw.strip() not in old:
            raw = strip_ties(raw).rstrip()
        body.append(raw)
    source = next(
        (r["summary_source"] for r in known if r.get("summary_source") and r.get("summary") == card.get("summary")),
        [],
    )
    return dict(card, body="\n".join(body), summary_source=list(source))


def load_passages(content_dir: Path) -> dict[str, Passage]:
    """The passages of content/sources.yaml by id (read once by the app at start)."""
    import yaml

    return passages_of(yaml.safe_load((content_dir / "sources.yaml").read_text(encoding="utf-8")) or {})


def load_statement(content_dir: Path, sources: dict) -> str | None:
    """The statement's text named by sources.yaml (statement.txt), or None when missing."""
    name = (sources.get("document") or {}).get("file") or "statement.txt"
    path = content_dir / name
    return path.read_text(encoding="utf-8") if path.is_file() else None
