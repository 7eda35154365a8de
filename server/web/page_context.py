"""What each guidance page shows, built once for the online page and its offline fragment."""

from __future__ import annotations

from markupsafe import Markup

from server.errors import NotFound
from server.guidance.provenance import Passage, card_sources, outcome_sources
from server.guidance.releases import ReleaseView
from server.guidance.scenarios import walk

# What kind of answer a flow outcome is, shown above it.
OUTCOME_KINDS = {
    "act": "Law enforcement role",
    "policy": "Check your agency's policy",
    "hold": "Stay out: the school leads",
    "care": "Educators first",
    "relate": "Teacher and informal counselor",
}


def home_context(release: ReleaseView) -> dict:
    """Home: cards grouped by category."""
    return {"release": release, "groups": release.grouped()}


def card_context(release: ReleaseView, card_id: str, article: Markup, passages: dict[str, Passage]) -> dict:
    """One card: its category, its article (rendered by hash), where its lines come from, related cards."""
    item = release.by_id.get(card_id)
    if item is None:
        raise NotFound(f"There is no card “{card_id}” in your agency's guidance.")
    return {
        "release": release,
        "card": item,
        "article": article,
        "sources": card_sources(item, passages, item.get("origins")),
        "related": [release.by_id[r] for r in item["related"] if r in release.by_id],
        "category": next((c for c in release.categories if c["id"] == item["category"]), None),
    }


def search_context(release: ReleaseView, query: str) -> dict:
    """Search: the query and the cards it finds (none for an empty query)."""
    return {"release": release, "query": query, "results": release.search(query) if query else []}


def policy_blocks(release: ReleaseView, refs: list[str]) -> list[dict]:
    """The agency's local-policy blocks named card/slot, as the release has them (missing ones left out)."""
    blocks = []
    for ref in refs:
        card_id, _, slot_id = str(ref).partition("/")
        card = release.by_id.get(card_id)
        slot = next((s for s in (card or {}).get("local_policy", []) if s["id"] == slot_id), None)
        if slot is not None:
            blocks.append({"card": card, "slot": slot})
    return blocks


def flow_context(release: ReleaseView, node_id: str | None, passages: dict[str, Passage]) -> dict:
    """One step of "Should I step in?" (the start when node_id is None)."""
    node_id = node_id or release.flow["start"]
    node = release.flow["nodes"].get(node_id)
    if node is None:
        raise NotFound("That step of the decision flow does not exist.")
    return {
        "release": release,
        "flow": release.flow,
        "node_id": node_id,
        "node": node,
        "cards": [release.by_id[c] for c in node.get("cards", []) if c in release.by_id],
        "is_start": node_id == release.flow["start"],
        "kind": OUTCOME_KINDS.get(node.get("tone"), ""),
        "sources": outcome_sources(node, passages) if "outcome" in node else None,
        "policy": policy_blocks(release, node.get("policy") or []),
    }


def practice_list_context(release: ReleaseView) -> dict:
    """Practice: the release's scenarios, to pick one."""
    return {"release": release, "scenarios": release.scenarios}


def practice_context(release: ReleaseView, scenario_id: str, passages: dict[str, Passage]) -> dict:
    """One practice scenario with every choice's outcome in the page, so no choice asks the server."""
    scenario = next((s for s in release.scenarios if s["id"] == scenario_id), None)
    if scenario is None:
        raise NotFound("There is no such practice scenario in your agency's guidance.")
    return {"release": release, "scenario": walk(scenario, passages)}


def changes_context(release: ReleaseView, old: ReleaseView | None, changes: list, ack: dict) -> dict:
    """What changed in a release since `old` (None for a first release), with the acknowledgment panel."""
    return {"release": release, "old": old, "changes": changes, "ack": ack}
