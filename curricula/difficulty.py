"""The difficulty score that orders a curriculum from easy to hard.

difficulty(record) is a weighted mean, in [0, 1], of three parts (higher is harder):
- lookup: 1 - lexical overlap between the question and the passage sentence that holds the
  answer (the share of the question's content words found in that sentence). A question that
  repeats its sentence is a string lookup; one that paraphrases it needs reading. Only for
  extractive QA; other formats get 0.5 (unknown, the middle).
- length: words the model must read (passage + question, the cloze sentence, question +
  options, the raw text) / `length_scale`, capped at 1.
- answer: words the model must produce (the answer; for key facts all facts) / `answer_scale`,
  capped at 1.
"""

from __future__ import annotations

import re

from curricula.text import field_text, normalise_words
from joule.records import EXTRACTIVE_FORMATS, format_name

# Function words do not say whether a question paraphrases its sentence.
STOPWORDS = frozenset(
    "a an the of in on at to for from by with and or is are was were be been do does did what "
    "which who whom whose when where why how that this these those it its as".split())

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def answer_sentence(context: str, start: int) -> str:
    """The sentence of `context` that contains character offset `start`."""
    begin = 0
    for match in _SENTENCE_END.finditer(context):
        if match.start() > start:
            return context[begin:match.start()]
        begin = match.end()
    return context[begin:]


def lexical_overlap(question: str, sentence: str) -> float:
    """Share (0-1) of the question's content words that occur in `sentence`."""
    q = {w for w in normalise_words(question) if w not in STOPWORDS}
    if not q:
        return 0.0
    return len(q & set(normalise_words(sentence))) / len(q)


def _read_and_write(record: dict) -> tuple[str, str]:
    name = format_name(record["format"])
    if name in EXTRACTIVE_FORMATS:
        return f"{record['context']}\n{record['question']}", record["answer"]
    if name == "qa_passage":
        return (f"{record['context']}\n{field_text(record['questions'])}",
                field_text(record["answers"]))
    if name == "qa_closed_book":
        return record["question"], record["answer"]
    if name == "cloze":
        return record["cloze"], record["answer"]
    if name == "multiple_choice":
        return f"{record['question']}\n{field_text(record['options'])}", record["answer"]
    if name == "key_facts":
        return record["title"], field_text(record["facts"])
    return field_text(record.get("text")), ""


def difficulty(record: dict, lookup_weight: float = 1.0, length_weight: float = 1.0,
               answer_weight: float = 1.0, length_scale: int = 300,
               answer_scale: int = 10) -> float:
    """The record's difficulty in [0, 1] (see the module docstring)."""
    name = format_name(record["format"])
    if name in EXTRACTIVE_FORMATS:
        sentence = answer_sentence(record["context"], int(record["answer_start"]))
        lookup = 1.0 - lexical_overlap(record["question"], sentence)
    elif name == "qa_passage":   # the mean over its questions
        pairs = list(zip(record["questions"], record["answer_starts"], strict=True))
        lookup = sum(1.0 - lexical_overlap(q, answer_sentence(record["context"], int(s)))
                     for q, s in pairs) / len(pairs)
    else:
        lookup = 0.5
    read, write = _read_and_write(record)
    length = min(len(normalise_words(read)) / length_scale, 1.0)
    answer = min(len(normalise_words(write)) / answer_scale, 1.0)
    weights = lookup_weight + length_weight + answer_weight
    if weights <= 0:
        raise ValueError("difficulty weights must sum to more than 0")
    return (lookup_weight * lookup + length_weight * length + answer_weight * answer) / weights
