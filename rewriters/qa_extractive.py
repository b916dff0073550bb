"""Extractive QA: a paragraph, a generated question about one of its sentences, and the answer
as a verbatim span of the paragraph with its character offset."""

from __future__ import annotations

from collections.abc import Iterator

from rewriters.questions import QuestionRewriter, paragraph_bounds


class QAExtractive(QuestionRewriter):
    """Records with `context`, `question`, `answer`, `answer_start` (characters into context)."""

    name = "qa_extractive"

    def rewrite(self, page: dict, doc) -> Iterator[dict]:
        text = page["text"]
        for q in self.questions(page, doc):
            start, end = paragraph_bounds(text, q.answer_start)
            context = text[start:end]
            offset = q.answer_start - start
            if context[offset:offset + len(q.answer)] != q.answer:
                # A span crossing a paragraph break: spaCy's sentences can run over "\n\n".
                self.drop("answer_outside_paragraph")
                continue
            yield self.make_record(
                page,
                {"context": context, "question": q.question, "answer": q.answer,
                 "answer_start": offset},
                {**self.meta(q), "context_start": start})
