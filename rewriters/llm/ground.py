"""Grounding: what the model wrote must agree with the passage it was given.

- An extractive answer must be a span of the passage: found as is, or ignoring case (the
  passage's own characters are then kept), else the pair is dropped (`answer_not_in_passage`).
- A paraphrase must keep the passage's numbers and most of its names. Names are found without a
  parser, as capitalised words that do not start a sentence (a cheap, stated heuristic: it keeps
  this stage free of spaCy); numbers as digit runs.
- A listed fact whose numbers are not in the passage is dropped (`number_not_in_passage`).
"""

from __future__ import annotations

import re

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[A-Za-z][\w'-]*")
_STRIP = " \t\n\"'`*.,;:"


def find_span(passage: str, answer: str) -> tuple[str, int] | None:
    """(answer as written in the passage, its start offset), or None when it is not a span."""
    answer = answer.strip(_STRIP)
    if not answer:
        return None
    start = passage.find(answer)
    if start < 0:
        start = passage.lower().find(answer.lower())
        if start < 0:
            return None
    return passage[start:start + len(answer)], start


def numbers(text: str) -> set[str]:
    """Digit runs, with thousands separators removed (`1,200` == `1200`)."""
    return {m.group(0).replace(",", "") for m in _NUMBER.finditer(text)}


def names(text: str) -> set[str]:
    """Capitalised words that do not start a sentence (proper-noun candidates)."""
    out = set()
    for m in _WORD.finditer(text):
        word = m.group(0)
        before = text[:m.start()].rstrip()
        if word[0].isupper() and before and before[-1] not in ".!?:\n\"'(" and len(word) > 1:
            out.add(word)
    return out


def recall(kept: set[str], wanted: set[str]) -> float:
    """Share of `wanted` found in `kept` (1.0 when nothing is wanted)."""
    return len(wanted & kept) / len(wanted) if wanted else 1.0


def check_paraphrase(passage: str, text: str, min_name_recall: float,
                     min_number_recall: float) -> str | None:
    """None when `text` keeps enough of the passage's names and numbers, else the drop reason."""
    words = set(_WORD.findall(text))
    if recall(words, names(passage)) < min_name_recall:
        return "lost_named_entities"
    if recall(numbers(text), numbers(passage)) < min_number_recall:
        return "lost_numbers"
    return None
