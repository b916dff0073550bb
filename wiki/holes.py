"""A checker for holes that cut markup leaves in cleaned text ("directed by in 1999").

Heuristic on purpose: it flags the shapes a removed word leaves (doubled punctuation, a space
before a comma, an article or preposition with its object missing: followed by punctuation,
another preposition or a verb). Real prose trips it now and then ("the world he lived in."), so
it is a measure to compare before and after a change, and the tests' pass/fail check on pages
written to contain no such prose, not a filter.

`python -m wiki.holes DIR` prints how many sentences of the pages under DIR (Parquet shards as
`prepare` writes them) have a hole, and a few of them.
"""

from __future__ import annotations

import re
import sys

# words that never end a clause: their object is missing when punctuation follows
_FUNCTION = r"(?:the|a|an|of|by|from|with|into|between)"
_PREPOSITION = r"(?:of|in|on|at|by|to|from|with|into|between|than|according)"
_VERB = r"(?:is|was|were|are|has|had|have|became|becomes|and|or)"
HOLE_PATTERNS = {
    "double space": re.compile(r"\S  +\S"),
    "doubled punctuation": re.compile(r"[,;:]\s*[,;:.]|\(\s*[,;:)]|\[\s*\]"),
    "space before punctuation": re.compile(r"\w\s+[,;:.!?](?:\s|$)"),
    "function word before punctuation": re.compile(rf"\b{_FUNCTION}\s*[,;:.!?)](?!\w)"),
    "article before preposition or verb": re.compile(
        rf"\b(?:the|a|an)\s+(?:{_PREPOSITION}|{_VERB})\b"),
    "preposition before preposition or verb": re.compile(
        rf"\b(?:of|by|from|with|at|into|between)\s+(?:{_PREPOSITION}|{_VERB})\b", re.IGNORECASE),
    "copula before 'according'": re.compile(r"\b(?:is|was|are|were)\s+according\b",
                                            re.IGNORECASE),
    "empty quotes": re.compile(r"\"\s*\"|“\s*”"),
}
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"(])")


def find_holes(text: str) -> list[tuple[str, str]]:
    """(pattern name, sentence) for each sentence of `text` that shows a hole."""
    found = []
    for paragraph in text.split("\n"):
        for sentence in _SENTENCE.split(paragraph):
            for name, pattern in HOLE_PATTERNS.items():
                if pattern.search(sentence):
                    found.append((name, sentence))
                    break
    return found


def count_sentences(text: str) -> int:
    """Sentences of `text` as `find_holes` splits them."""
    return sum(len(_SENTENCE.split(p)) for p in text.split("\n") if p.strip())


def main(argv: list[str]) -> None:
    import pyarrow.parquet as pq

    from joule.errors import JouleError

    if len(argv) != 1:
        raise SystemExit("usage: python -m wiki.holes DATA_DIR/pages")
    try:
        texts = pq.read_table(argv[0], columns=["text"]).column("text").to_pylist()
    except (OSError, ValueError) as exc:
        raise JouleError(f"{argv[0]}: cannot read pages ({exc})") from None
    holes = [h for t in texts for h in find_holes(t)]
    sentences = sum(count_sentences(t) for t in texts)
    by_kind: dict[str, int] = {}
    for name, _ in holes:
        by_kind[name] = by_kind.get(name, 0) + 1
    print(f"{len(texts)} pages, {sentences} sentences, {len(holes)} with a hole: {by_kind}")
    for name, sentence in holes[:10]:
        print(f"  [{name}] {sentence[:160]}")


if __name__ == "__main__":
    main(sys.argv[1:])
