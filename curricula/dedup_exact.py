"""Exact dedup: keep the first record of each (format, normalised content)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from curricula.base import Context, Step
from curricula.text import field_text, normalise_words, text_fields
from joule.records import format_name


class ExactDedup(Step):
    """Drop a record whose format and text fields equal an earlier record's, word for word after
    `normalise_words` (so case, punctuation and spacing differences still count as equal).
    The first occurrence in input order is kept, so dedup keeps corpus order stable."""

    def run(self, records: list[dict], ctx: Context) -> Iterator[dict]:
        first: dict[str, str] = {}   # content hash -> id of the record kept
        for record in records:
            parts = [format_name(record["format"])]
            parts += [" ".join(normalise_words(field_text(record.get(f))))
                      for f in text_fields(record)]
            key = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
            if key in first:
                self.drop(record, "exact_duplicate", f"of {first[key]}")
                continue
            first[key] = record["id"]
            yield record
