"""The last check on a generated question: everything it says comes from its source sentence.

A rule rewriter builds a question from the words of one sentence, the wh-words, a form of "do"
and, where a he/she subject was resolved, the antecedent's name. Any other word means a rule put
in something the sentence does not say (the kind of bug that made "Where did Anna Weber die?"
out of her father's death). The answer must be a span of the same sentence.
"""

from __future__ import annotations

import re

from spacy.tokens import Span

from rewriters.clause import third_singular

# Words a question may add to its sentence's: the wh-phrases of `rewriters.wh` and do-support.
QUESTION_WORDS = frozenset({"who", "whom", "what", "when", "where", "which", "how", "many",
                            "much", "percentage", "do", "does", "did"})
WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Lower-cased word characters runs of `text` (punctuation and spacing ignored)."""
    return WORD.findall(text.lower())


def sentence_words(sent: Span) -> set[str]:
    """Every form a question may use of the sentence's words: text, lemma, third person."""
    found: set[str] = set()
    for t in sent:
        found.update(words(t.text))
        found.update(words(t.lemma_))
        if t.pos_ in ("VERB", "AUX"):
            found.update(words(third_singular(t)))
    return found


def unsupported(question: str, answer_start: int, answer_end: int, sent: Span,
                substituted: str | None = None) -> str | None:
    """Why (question, answer) is not supported by `sent`, or None when it is.

    answer_start/answer_end: character offsets of the answer in the sentence's doc; substituted:
    the name that replaced a pronoun, the only outside words the question may hold.
    Reasons: `answer_outside_sentence`, `unsupported_word`.
    """
    if answer_start < sent.start_char or answer_end > sent.end_char:
        return "answer_outside_sentence"
    allowed = sentence_words(sent) | QUESTION_WORDS | set(words(substituted or ""))
    if any(w not in allowed for w in words(question)):
        return "unsupported_word"
    return None
