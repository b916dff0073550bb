"""The record schema shared by rewriters, curricula, training and the report.

A record is one training example: a row of a Parquet table under
`<data_dir>/records/<rewriter name>/`. Every record has the common columns below; each format
adds its own fields (see FORMAT_FIELDS). `meta` is a JSON string (sorted keys) so that tables
of every format share one Arrow type for it.
"""

from __future__ import annotations

import hashlib
import json

COMMON_FIELDS = ("id", "page_id", "title", "format", "meta")

# Fields each format adds (keyed by rewriter name; the record's `format` is "<name>.v<N>").
FORMAT_FIELDS: dict[str, tuple[str, ...]] = {
    "qa_extractive": ("context", "question", "answer", "answer_start"),
    # the same fields; the question is made from another sentence than the passage's (Fabbri 2020)
    "qa_retrieved": ("context", "question", "answer", "answer_start"),
    # one passage with several of its questions, answered turn by turn (curricula.group_passages)
    "qa_passage": ("context", "questions", "answers", "answer_starts"),
    "qa_closed_book": ("question", "answer"),
    "cloze": ("cloze", "answer"),                       # cloze: sentence with "____" for the answer
    "multiple_choice": ("question", "options", "answer_index", "answer"),  # options: 4 strings
    "key_facts": ("facts",),                            # facts: list of sentences
    "raw": ("text",),
    "paraphrase": ("text",),                            # an LLM's rewording of a passage (WRAP)
}

# Formats of (passage, question, answer span) records: one prompt, one set of checks.
EXTRACTIVE_FORMATS = ("qa_extractive", "qa_retrieved")

CLOZE_MASK = "____"


def format_name(fmt: str) -> str:
    """`qa_extractive.v1` -> `qa_extractive`."""
    return fmt.split(".", 1)[0]


def record_id(fmt: str, page_id: str, *content: object) -> str:
    """Stable id: a hash of the format, the page it came from and the record's content."""
    payload = json.dumps([fmt, str(page_id), *content], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]


def dump_meta(meta: dict) -> str:
    """`meta` as the canonical JSON string stored in the `meta` column."""
    return json.dumps(meta, ensure_ascii=False, sort_keys=True)
