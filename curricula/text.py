"""Text views of a record shared by dedup, decontamination and difficulty: which fields hold
the record's words, and one word-level normalisation for all of them."""

from __future__ import annotations

import re
import unicodedata

from joule.records import FORMAT_FIELDS, format_name

# Fields that are not free text (ids, offsets, indices) and never take part in text matching.
_NOT_TEXT = {"answer_start", "answer_starts", "answer_index"}

# The part of each format that makes two records "the same example" for near-dup detection.
# Extractive QA leaves out the context: many good questions share one passage.
IDENTITY_FIELDS: dict[str, tuple[str, ...]] = {
    "qa_extractive": ("question", "answer"),
    "qa_retrieved": ("question", "answer"),
    "qa_passage": ("questions", "answers"),
    "qa_closed_book": ("question", "answer"),
    "cloze": ("cloze", "answer"),
    "multiple_choice": ("question", "answer"),
    "key_facts": ("facts",),
    "raw": ("text",),
}

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise_words(text: str) -> list[str]:
    """Lower-cased words of `text` after NFKC; punctuation and underscores (the cloze mask)
    separate words and are dropped."""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).lower()).split()


def field_text(value) -> str:
    """A field's words as one string: lists (facts, options) are joined with newlines."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "\n".join(field_text(v) for v in value)
    return str(value)


def text_fields(record: dict) -> tuple[str, ...]:
    """The free-text fields of the record's format (all of FORMAT_FIELDS but offsets)."""
    name = format_name(record["format"])
    if name not in FORMAT_FIELDS:
        raise ValueError(f"unknown record format {record['format']!r}")
    return tuple(f for f in FORMAT_FIELDS[name] if f not in _NOT_TEXT)


def identity_text(record: dict) -> str:
    """The text that identifies a record as an example (see IDENTITY_FIELDS)."""
    name = format_name(record["format"])
    fields = IDENTITY_FIELDS.get(name) or text_fields(record)
    return "\n".join(field_text(record.get(f)) for f in fields)
