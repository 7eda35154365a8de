"""Search finds a card that answers the officer in the first three for hallway phrases.

The phrases and their acceptable cards are in tests/search_eval.yaml; benchmarks/search_quality.py
prints the rates and every miss.
"""

import yaml

from server.guidance.content import load_content
from server.guidance.lexicon import app_lexicon
from server.guidance.search import rank
from server.guidance.search_index import build_index
from server.settings import ROOT

TOP3_FLOOR = 0.90


def top3_rate(phrases: list[dict]) -> tuple[float, list[str]]:
    content = load_content(ROOT / "content", strict=False)
    ids = [c["id"] for c in content.cards]
    tables = build_index(content.cards, app_lexicon()).tables
    misses = []
    for item in phrases:
        found = {ids[position] for position, _ in rank(tables, item["q"]).hits[:3]}
        if not found & set(item["ok"]):
            misses.append(item["q"])
    return 1 - len(misses) / len(phrases), misses


def test_eval_set_is_large_and_names_only_real_cards():
    sets = yaml.safe_load((ROOT / "tests" / "search_eval.yaml").read_text(encoding="utf-8"))
    assert len(sets["eval"]) >= 60 and len(sets["held_out"]) >= 15
    card_ids = {c["id"] for c in load_content(ROOT / "content", strict=False).cards}
    for item in sets["eval"] + sets["held_out"]:
        assert item["ok"] and set(item["ok"]) <= card_ids, item["q"]


def test_top3_hit_rate_stays_above_the_floor():
    sets = yaml.safe_load((ROOT / "tests" / "search_eval.yaml").read_text(encoding="utf-8"))
    rate, misses = top3_rate(sets["eval"])
    assert rate >= TOP3_FLOOR, f"top-3 {rate:.0%}; missed: {misses}"
