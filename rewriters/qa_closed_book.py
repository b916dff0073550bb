"""Closed-book QA: the extractive rewriter's questions with no passage, answered from memory."""

from __future__ import annotations

from collections.abc import Iterator

from rewriters.questions import QuestionRewriter, needs_context

# Words that end a definite noun phrase in a question.
PREPOSITIONS = frozenset({"of", "from", "in", "at", "to", "for", "with", "by", "on", "into",
                          "during", "after", "before", "since", "until", "as", "about"})


class QAClosedBook(QuestionRewriter):
    """Records with `question` and a short `answer`.

    A question that points at its passage ("When did it end?", "What did his army take?") cannot
    be answered without it: dropped as `needs_context`. With `require_name`, a question must also
    name something (a proper noun or a number), since "When was the city founded?" has no single
    answer once the page is gone: dropped as `no_name`. A question about "the economy" or "the
    word" (a definite phrase of common nouns, not "of" a name) points at the page's own topic:
    dropped as `unnamed_definite`.
    """

    name = "qa_closed_book"

    def __init__(self, seed: int = 0, require_name: bool = True, **knobs):
        super().__init__(seed=seed, **knobs)
        self.require_name = require_name

    def rewrite(self, page: dict, doc) -> Iterator[dict]:
        for q in self.questions(page, doc):
            if needs_context(q.question):
                self.drop("needs_context")
                continue
            if self.require_name and not names_something(q.question):
                self.drop("no_name")
                continue
            if unnamed_definite(q.question):
                self.drop("unnamed_definite")
                continue
            yield self.make_record(page, {"question": q.question, "answer": q.answer},
                                   self.meta(q))


def names_something(question: str) -> bool:
    """Whether a question carries a capitalised word past its first, or a digit."""
    words = question.rstrip("?").split()[1:]
    return any(w[:1].isupper() or any(c.isdigit() for c in w) for w in words)


def unnamed_definite(question: str) -> bool:
    """Whether a question holds "the" + lower-case words only ("When did the economy grow 18%?",
    "... borrow the word from Spanish?") that no name follows directly ("the river Thames") or
    through "of" ("the start of Ravel's tour")."""
    words = question.rstrip("?").split()
    for i, w in enumerate(words[1:], start=1):
        if w != "the":
            continue
        j = i + 1
        while j < len(words) and words[j][:1].islower() and words[j] not in PREPOSITIONS:
            j += 1
        if j == i + 1:
            continue   # "the Netherlands", "the Ottoman authorities": a name right after "the"
        if j < len(words) and words[j][:1].isupper():
            continue   # "the river Thames"
        if j + 1 < len(words) and words[j] == "of" and words[j + 1][:1].isupper():
            continue
        return True
    return False
