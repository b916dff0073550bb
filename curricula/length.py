"""Length bounds: drop records too short to teach anything or too long to train on whole."""

from __future__ import annotations

from curricula.base import Context, Filter
from curricula.text import normalise_words


class LengthBounds(Filter):
    """Bounds on a record's training tokens (prompt + answer, the budget's unit) and on its
    answer's words. A bound set to null is not checked.

    min_tokens / max_tokens: training tokens per record (max: stay under the train stage's
        maximum sequence length, so no record is truncated in training).
    min_answer_words / max_answer_words: words of the `answer` field, for formats that have one
        (extractive answers are short spans; a long one is usually a bad span).
    """

    def __init__(self, min_tokens: int | None = None, max_tokens: int | None = None,
                 min_answer_words: int | None = None, max_answer_words: int | None = None,
                 name: str | None = None):
        super().__init__(name)
        self.min_tokens, self.max_tokens = min_tokens, max_tokens
        self.min_answer_words, self.max_answer_words = min_answer_words, max_answer_words

    def filter(self, record: dict, ctx: Context) -> bool | tuple:
        if self.min_tokens is not None or self.max_tokens is not None:
            n = ctx.tokens(record)
            if self.min_tokens is not None and n < self.min_tokens:
                return False, "too_few_tokens", f"{n} < {self.min_tokens} tokens"
            if self.max_tokens is not None and n > self.max_tokens:
                return False, "too_many_tokens", f"{n} > {self.max_tokens} tokens"
        if record.get("answer") is not None:
            words = len(normalise_words(record["answer"]))
            if self.min_answer_words is not None and words < self.min_answer_words:
                return False, "answer_too_short", f"{words} < {self.min_answer_words} words"
            if self.max_answer_words is not None and words > self.max_answer_words:
                return False, "answer_too_long", f"{words} > {self.max_answer_words} words"
        return True
