"""How often search puts a card that answers the officer first, or in the first three.

Runs the phrases of tests/search_eval.yaml (written the way officers talk in a hallway, each
with the cards that actually answer it) against the index of the base guidance in content/
with content/lexicon.yaml, exactly as phones and the server rank them. Prints the top-1 and
top-3 hit rates of the tuning set and of the held-out set (written before any tuning), every
miss with what came first instead, and the size of the shipped index.

    .venv/bin/python benchmarks/search_quality.py [--all]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from server.guidance.content import load_content  # noqa: E402
from server.guidance.lexicon import check_lexicon, load_lexicon, weak_terms  # noqa: E402
from server.guidance.search import rank  # noqa: E402
from server.guidance.search_index import build_index  # noqa: E402

EVAL_FILE = ROOT / "tests" / "search_eval.yaml"


def evaluate(phrases: list[dict], ids: list[str], tables) -> dict:
    """Top-1 and top-3 hits over phrases, and the misses with what ranked first."""
    top1 = top3 = 0
    misses = []
    for item in phrases:
        outcome = rank(tables, item["q"])
        found = [ids[card] for card, _ in outcome.hits[:3]]
        ok = set(item["ok"])
        top1 += bool(found[:1] and found[0] in ok)
        if ok & set(found):
            top3 += 1
        else:
            misses.append((item["q"], item["ok"], found, outcome.close))
    return {"count": len(phrases), "top1": top1, "top3": top3, "misses": misses}


def report(name: str, result: dict) -> None:
    n = result["count"]
    print(f"{name}: {n} phrases   top-1 {result['top1'] / n:6.1%} ({result['top1']})   "
          f"top-3 {result['top3'] / n:6.1%} ({result['top3']})")
    for query, ok, found, close in result["misses"]:
        print(f"  miss: {query!r}  wanted {ok}  got {found}{'' if close else '  (no close match)'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="also print the first three cards of every phrase")
    args = parser.parse_args()
    content = load_content(ROOT / "content", strict=False)
    lexicon = load_lexicon(ROOT / "content" / "lexicon.yaml")
    problems = check_lexicon(lexicon, content.cards)
    index = build_index(content.cards, lexicon)
    ids = [c["id"] for c in content.cards]
    sets = yaml.safe_load(EVAL_FILE.read_text(encoding="utf-8"))
    print(f"Base guidance: {len(ids)} cards; lexicon: {len(lexicon.entries)} entries"
          f"{f', {len(problems)} problem(s)' if problems else ''}")
    print(f"Shipped index: {index.gzip_size():,} bytes gzip, {len(index.tables.forms):,} word forms, "
          f"{len(index.shipped['postings']):,} posting lists")
    for problem in problems:
        print(f"  lexicon: {problem}")
    for note in weak_terms(lexicon, content.cards):
        print(f"  lexicon, weak: {note}")
    report("eval", evaluate(sets["eval"], ids, index.tables))
    report("held out", evaluate(sets["held_out"], ids, index.tables))
    if args.all:
        for item in sets["eval"] + sets["held_out"]:
            outcome = rank(index.tables, item["q"])
            shown = ", ".join(f"{ids[c]} {s:.0f}" for c, s in outcome.hits[:3])
            print(f"  {item['q']!r}: {shown}{'' if outcome.close else '  (no close match)'}")


if __name__ == "__main__":
    main()
