"""Decontamination: drop records that share a word n-gram with the held-out questions or their
passages, so that no evaluation text is trained on (GPT-3's 13-gram overlap test)."""

from __future__ import annotations

from collections.abc import Iterator

from curricula.base import Context, Step
from curricula.text import field_text, normalise_words, text_fields


class Decontaminate(Step):
    """Drop every record that shares an `n`-word n-gram (after `normalise_words`) with any
    question or context of the eval file (all of it, not only the scored sample).

    n: n-gram length in words (13 as in the GPT-3 paper).
    questions / contexts: check against eval questions / eval passages.
    min_short_words: an eval text shorter than `n` words but at least this long is matched as a
        whole phrase (most questions are shorter than 13 words and would otherwise never match);
        shorter texts are too generic to match on (null: never match short texts).
    N-grams never cross a field boundary of the record.
    """

    def __init__(self, n: int = 13, questions: bool = True, contexts: bool = True,
                 min_short_words: int | None = 8, name: str | None = None):
        super().__init__(name)
        self.n, self.questions, self.contexts = n, questions, contexts
        self.min_short_words = min_short_words

    def _eval_ngrams(self, ctx: Context) -> dict[int, dict[tuple[str, ...], tuple[str, str]]]:
        """length -> {n-gram: (kind, eval id)}; lengths are `n` plus the short texts' lengths."""
        table: dict[int, dict[tuple[str, ...], tuple[str, str]]] = {}
        kinds = [k for k, on in (("question", self.questions), ("context", self.contexts)) if on]
        rows = ctx.eval_set()
        for row in rows:
            for kind in kinds:
                words = normalise_words(row[kind])
                if len(words) >= self.n:
                    grams = {tuple(words[i:i + self.n]) for i in range(len(words) - self.n + 1)}
                    size = self.n
                elif self.min_short_words is not None and len(words) >= self.min_short_words:
                    grams, size = {tuple(words)}, len(words)
                else:
                    continue
                bucket = table.setdefault(size, {})
                for gram in grams:
                    bucket.setdefault(gram, (kind, row["id"]))
        self.info.update(eval_questions=len(rows),
                         eval_contexts=len({r["context"] for r in rows}),
                         eval_ngrams=sum(len(b) for b in table.values()), n=self.n)
        return table

    def run(self, records: list[dict], ctx: Context) -> Iterator[dict]:
        table = self._eval_ngrams(ctx)
        for record in records:
            hit = None
            for field in text_fields(record):
                words = normalise_words(field_text(record.get(field)))
                for size, bucket in table.items():
                    for i in range(len(words) - size + 1):
                        hit = bucket.get(tuple(words[i:i + size]))
                        if hit:
                            break
                    if hit:
                        break
                if hit:
                    break
            if hit:
                kind, eval_id = hit
                self.drop(record, f"eval_overlap_{kind}",
                          f"{field} shares a {size}-gram with eval {kind} of {eval_id}")
                continue
            yield record
