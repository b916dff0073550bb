"""Answer-in-context: an extractive-QA record's answer must be the span its offset points at."""

from __future__ import annotations

from curricula.base import Context, Filter
from joule.records import EXTRACTIVE_FORMATS, format_name


class AnswerInContext(Filter):
    """Drop extractive-QA records whose `context[answer_start:answer_start+len(answer)]` is not
    `answer` (or whose answer is empty): training on a wrong span teaches the wrong copy.
    Records of other formats pass."""

    def filter(self, record: dict, ctx: Context) -> bool | tuple:
        if format_name(record["format"]) not in EXTRACTIVE_FORMATS:
            return True
        answer, context, start = record.get("answer"), record.get("context"), record.get(
            "answer_start")
        if not answer or not answer.strip():
            return False, "empty_answer"
        if context is None or start is None or start < 0:
            return False, "answer_not_in_context", f"answer_start={start}"
        if context[start:start + len(answer)] != answer:
            where = "elsewhere" if answer in context else "nowhere"
            return (False, "answer_not_in_context",
                    f"span at {start} differs; answer {where} in context")
        return True
