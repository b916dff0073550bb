"""Round-trip filter with a cheap extractive reader: keep an extractive-QA pair only where a
reader that sees the passage and the question alone lands on the same answer.

The reader is lexical (no model call, so it costs microseconds per record on 2 cores): it picks
the passage sentence that shares the most question content words (`lexical_overlap`). A pair
survives when that sentence is unique and holds the answer span. Questions whose words point at
another sentence (or at two equally) are the pairs a reader cannot answer consistently (Alberti
et al. 2019's round-trip consistency, with a lexical reader standing in for the QA model).
Records of other formats pass.
"""

from __future__ import annotations

import re

from curricula.base import Context, Filter
from curricula.difficulty import lexical_overlap
from joule.records import EXTRACTIVE_FORMATS, format_name

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def sentence_spans(context: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of the sentences of `context` (split after . ! ?)."""
    spans, begin = [], 0
    for match in _SENTENCE_END.finditer(context):
        spans.append((begin, match.start()))
        begin = match.end()
    spans.append((begin, len(context)))
    return spans


class RoundTrip(Filter):
    """Drop extractive-QA records the lexical reader does not answer consistently.

    min_margin: the reader's best sentence must beat the runner-up by at least this much
    overlap (0-1 share of the question's content words); 0 only requires a unique best.
    Drop reason: `reader_other_sentence` (the best-matching sentence is not the answer's, or
    ties with another).
    """

    def __init__(self, min_margin: float = 0.0, name: str | None = None):
        super().__init__(name=name)
        if not 0.0 <= min_margin <= 1.0:
            raise ValueError(f"min_margin must be in [0, 1], got {min_margin}")
        self.min_margin = min_margin

    def filter(self, record: dict, ctx: Context) -> bool | tuple:
        if format_name(record["format"]) not in EXTRACTIVE_FORMATS:
            return True
        context, question = record["context"], record["question"]
        start = int(record["answer_start"])
        spans = sentence_spans(context)
        scores = [lexical_overlap(question, context[a:b]) for a, b in spans]
        best = max(range(len(spans)), key=lambda i: scores[i])
        runner_up = max((s for i, s in enumerate(scores) if i != best), default=None)
        margin = 1.0 if runner_up is None else scores[best] - runner_up
        a, b = spans[best]
        if not a <= start < b or margin <= 0 or margin < self.min_margin:
            return False, "reader_other_sentence", f"best overlap {scores[best]:.2f}"
        return True
