"""Practice scenarios: short situations built from the decision flow, loaded and checked.

A scenario is a situation, 2 to 4 choices an officer might make, and for each choice the
outcome the guidance gives, each line tied to the statement like a flow outcome's detail
(`[§ passage-id]`, or `[§ framing]` / `[§ local]`), and the flow outcome node it corresponds
to. Exactly one choice is the one the guidance supports. The NASRO base ones are in
content/scenarios.yaml; an agency adds or edits its own in a draft (draft_scenarios.py), and
a release carries them (Release.scenarios). The same checks apply to both.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from server.guidance import provenance
from server.guidance.content_errors import ContentError, line_of

SCENARIOS_FILE = "scenarios.yaml"
NASRO = "nasro"
AGENCY = "agency"
MAX_SCENARIOS = 20
MIN_CHOICES, MAX_CHOICES = 2, 4
MAX_OUTCOME_LINES = 4
# Characters: a scenario is read in a hallway on a phone.
MAX_LENGTHS = {"title": 90, "situation": 600, "label": 140, "outcome": 700}
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def scenario_data(raw: dict, by: str) -> dict:
    """The canonical, stored form of one scenario (by: nasro or agency)."""
    return {
        "id": str(raw.get("id") or "").strip(),
        "title": " ".join(str(raw.get("title") or "").split()),
        "situation": " ".join(str(raw.get("situation") or "").split()),
        "by": by,
        "choices": [
            {
                "label": " ".join(str(c.get("label") or "").split()),
                "outcome": "\n".join(
                    line.strip() for line in str(c.get("outcome") or "").strip().split("\n") if line.strip()
                ),
                "flow": str(c.get("flow") or "").strip(),
                "supported": c.get("supported") is True,
            }
            for c in raw.get("choices") or []
            if isinstance(c, dict)
        ],
    }


def flow_outcomes(flow: dict) -> dict[str, dict]:
    """The flow's outcome nodes by id: what a choice may correspond to."""
    return {k: v for k, v in (flow.get("nodes") or {}).items() if isinstance(v, dict) and "outcome" in v}



def check_scenario(
    scenario: dict, passages: dict, flow: dict, *, where: str, file: str = SCENARIOS_FILE, raw: str = ""
) -> list[ContentError]:
    """Every problem of one scenario (canonical form), naming the file and the field or line."""
    errors: list[ContentError] = []

    def err(fld: str, message: str, text: str = "") -> None:
        errors.append(ContentError(file, (line_of(raw, text) if raw and text else "") or fld, message))

    if not _SLUG.match(scenario["id"]):
        err(f"{where}.id", f"{scenario['id']!r} is not a lowercase-hyphen slug (like vape-handed-over)", scenario["id"])
    for name in ("title", "situation"):
        if not scenario[name]:
            err(f"{where}.{name}", "is required")
        elif len(scenario[name]) > MAX_LENGTHS[name]:
            err(f"{where}.{name}", f"is {len(scenario[name])} characters; keep it to {MAX_LENGTHS[name]}", scenario[name])
    choices = scenario["choices"]
    if not MIN_CHOICES <= len(choices) <= MAX_CHOICES:
        err(f"{where}.choices", f"needs {MIN_CHOICES} to {MAX_CHOICES} choices (has {len(choices)})")
    supported = sum(1 for c in choices if c["supported"])
    if supported != 1:
        err(f"{where}.choices", f"exactly one choice must be the one the guidance supports (supported: true); {supported} are")
    outcomes = flow_outcomes(flow)
    labels: set[str] = set()
    for i, choice in enumerate(choices):
        at = f"{where}.choices[{i}]"
        if not choice["label"]:
            err(f"{at}.label", "is required")
        elif len(choice["label"]) > MAX_LENGTHS["label"]:
            err(f"{at}.label", f"is {len(choice['label'])} characters; keep it to {MAX_LENGTHS['label']}", choice["label"])
        elif choice["label"].lower() in labels:
            err(f"{at}.label", "two choices have the same label", choice["label"])
        labels.add(choice["label"].lower())
        if choice["flow"] not in outcomes:
            err(f"{at}.flow", f"{choice['flow']!r} is not an outcome of the decision flow")
        lines = provenance.reading_lines(choice["outcome"])
        if not lines:
            err(f"{at}.outcome", "is required")
            continue
        text = provenance.strip_ties(choice["outcome"])
        if len(text) > MAX_LENGTHS["outcome"]:
            err(f"{at}.outcome", f"is {len(text)} characters; keep it to {MAX_LENGTHS['outcome']}")
        if len(lines) > MAX_OUTCOME_LINES:
            err(f"{at}.outcome", f"has {len(lines)} lines; keep it to {MAX_OUTCOME_LINES}")
        for line in lines:
            # A scenario's outcome may always point to local policy: the agency's policy or MOU.
            for problem in provenance.check_ties(line.ties, passages, allow_local=True):
                err(f"{at}.outcome line {line.number}", f"{line.text[:50]!r} {problem}", line.text)
        if not any(line.passages for line in lines):
            err(f"{at}.outcome", "must rest on at least one passage of the statement")
    return errors


def check_scenarios(scenarios: list[dict], passages: dict, flow: dict, *, raw: str = "") -> list[ContentError]:
    """Checks of a whole list: each scenario, unique ids, and how many there are."""
    errors: list[ContentError] = []
    if len(scenarios) > MAX_SCENARIOS:
        errors.append(ContentError(SCENARIOS_FILE, "scenarios", f"{len(scenarios)} scenarios; keep it to {MAX_SCENARIOS}"))
    seen: set[str] = set()
    for i, scenario in enumerate(scenarios):
        where = f"scenarios[{i}]"
        if scenario["id"] in seen:
            at = line_of(raw, f"id: {scenario['id']}") if raw else ""
            errors.append(ContentError(SCENARIOS_FILE, at or f"{where}.id", f"{scenario['id']!r} is used twice"))
        seen.add(scenario["id"])
        errors.extend(check_scenario(scenario, passages, flow, where=where, raw=raw))
    return errors


def load_scenarios(root: Path, passages: dict, flow: dict) -> tuple[list[dict], list[ContentError]]:
    """The NASRO base scenarios of content/scenarios.yaml, checked against the passages and the flow."""
    path = root / SCENARIOS_FILE
    try:
        raw = path.read_text(encoding="utf-8")
        data = yaml.safe_load(raw) or {}
    except FileNotFoundError:
        return [], [ContentError(SCENARIOS_FILE, "-", "file is missing")]
    except yaml.YAMLError as exc:
        return [], [ContentError(SCENARIOS_FILE, "-", f"is not valid YAML: {exc}")]
    items = data.get("scenarios") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        return [], [ContentError(SCENARIOS_FILE, "scenarios", "must be a list of scenarios")]
    errors: list[ContentError] = []
    scenarios = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("choices") or [], list):
            errors.append(ContentError(SCENARIOS_FILE, f"scenarios[{i}]", "must be a mapping with a list of choices"))
            continue
        scenarios.append(scenario_data(item, NASRO))
    errors.extend(check_scenarios(scenarios, passages, flow, raw=raw))
    return scenarios, errors


def base_scenarios(content_dir: Path) -> list[dict]:
    """The NASRO base scenarios that pass their checks (read once by the app at start)."""
    sources = yaml.safe_load((content_dir / "sources.yaml").read_text(encoding="utf-8")) or {}
    flow_path = content_dir / "flow.yaml"
    flow = yaml.safe_load(flow_path.read_text(encoding="utf-8")) or {} if flow_path.is_file() else {}
    scenarios, _ = load_scenarios(content_dir, provenance.passages_of(sources), flow)
    passages = provenance.passages_of(sources)
    return [s for s in scenarios if not check_scenario(s, passages, flow, where="-")]


def fits_flow(scenario: dict, flow: dict) -> bool:
    """Whether every choice of a scenario corresponds to an outcome of this flow."""
    outcomes = flow_outcomes(flow)
    return all(c["flow"] in outcomes for c in scenario["choices"])


def walk(scenario: dict, passages: dict[str, provenance.Passage]) -> dict:
    """A scenario as the practice page shows it: each choice's points and where they come from."""
    choices = []
    for i, choice in enumerate(scenario["choices"], start=1):
        lines = provenance.reading_lines(choice["outcome"])
        sources = provenance.grouped(
            [{"part": "", "text": line.text, "ties": line.ties or (), "agency": False, "since": None} for line in lines],
            passages,
        )
        sources.update(legacy=False, slots=[])
        choices.append(dict(choice, number=i, points=[line.text for line in lines], sources=sources))
    return dict(scenario, choices=choices, agency=scenario.get("by") == AGENCY)


def changes(before: list[dict] | None, after: list[dict] | None) -> list[dict]:
    """Scenarios added, edited or removed from `before` to `after`, for the review page."""
    old = {s["id"]: s for s in before or []}
    new = {s["id"]: s for s in after or []}
    found = []
    for sid, scenario in new.items():
        if sid not in old:
            found.append({"id": sid, "title": scenario["title"], "change": "added"})
        elif old[sid] != scenario:
            found.append({"id": sid, "title": scenario["title"], "change": "edited"})
    for sid, scenario in old.items():
        if sid not in new:
            found.append({"id": sid, "title": scenario["title"], "change": "removed"})
    return found
