"""Question-quality heuristics for records that have a `question` (cheap checks that catch the
usual failures of template and model-made questions)."""

from __future__ import annotations

from curricula.base import Context, Filter
from curricula.text import normalise_words
from joule.records import format_name

# Words a well-formed English question starts with (wh-words and inverted auxiliaries).
QUESTION_WORDS = (
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "in", "on", "at",
    "is", "are", "was", "were", "do", "does", "did", "can", "could", "has", "have", "had",
    "will", "would", "should", "to", "from", "for", "by", "during", "after", "before", "name",
    # a fronted preposition ("Of how many judges ...?", "Until when ...?", "Since when ...?")
    "of", "until", "since", "with", "about", "into", "through", "under", "among", "between",
)


class QuestionQuality(Filter):
    """Drop questions that are malformed or give themselves away.

    require_question_mark: the question ends with "?".
    min_words / max_words: question length in words (very short ones are ambiguous, very long
        ones are usually a copied sentence).
    question_words: the first word must be one of these (null: not checked); a question that
        starts elsewhere is most often a sentence with a "?" glued on.
    answer_in_question: allow the answer's words to appear as a phrase inside the question
        (false: such a question leaks its answer).
    formats: the formats whose `question` is a wh-question these checks are made for (null: every
        format with a question). Multiple-choice questions are cloze sentences framed as "Which
        option fills the blank?" and would all fail the question-mark rule.
    """

    def __init__(self, require_question_mark: bool = True, min_words: int = 3,
                 max_words: int = 40, question_words: list[str] | None = QUESTION_WORDS,
                 answer_in_question: bool = False,
                 formats: list[str] | None = ("qa_extractive", "qa_retrieved", "qa_closed_book"),
                 name: str | None = None):
        super().__init__(name)
        self.formats = set(formats) if formats is not None else None
        self.require_question_mark = require_question_mark
        self.min_words, self.max_words = min_words, max_words
        self.question_words = set(question_words) if question_words is not None else None
        self.answer_in_question = answer_in_question

    def filter(self, record: dict, ctx: Context) -> bool | tuple:
        question = record.get("question")
        if question is None or (self.formats is not None
                                and format_name(record["format"]) not in self.formats):
            return True
        words = normalise_words(question)
        if self.require_question_mark and not question.rstrip().endswith("?"):
            return False, "no_question_mark"
        if len(words) < self.min_words:
            return False, "question_too_short", f"{len(words)} < {self.min_words} words"
        if len(words) > self.max_words:
            return False, "question_too_long", f"{len(words)} > {self.max_words} words"
        if self.question_words is not None and words[0] not in self.question_words:
            return False, "no_question_word", f"starts with {words[0]!r}"
        if not self.answer_in_question and record.get("answer"):
            answer = " ".join(normalise_words(record["answer"]))
            if answer and f" {answer} " in f" {' '.join(words)} ":
                return False, "answer_in_question"
        return True
