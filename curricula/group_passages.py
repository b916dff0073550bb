"""Group the extractive questions of one passage into one record, read once and asked turn by turn.

An extractive-QA record spends most of its tokens on the passage and takes the loss on a few
answer tokens. Several questions about the same passage as one conversation (Nemotron-CC's
"diverse QA pairs": the passage kept with its pairs) cost the passage once, so the same token
budget carries more answers, as many more as passages have questions (`joule.formats.chat_turns`).
"""

from __future__ import annotations

from collections.abc import Iterator

from curricula.base import Context, Step
from joule.errors import JouleError
from joule.records import EXTRACTIVE_FORMATS, dump_meta, format_name, record_id

FORMAT = "qa_passage.v1"


class GroupPassages(Step):
    """Merge `qa_extractive` records that share a page and a context into `qa_passage` records.

    max_questions: questions per merged record (a passage with more is split into several records
        of at most this many, in input order); min_questions: a group smaller than this stays as
        its `qa_extractive` records. The merged record takes the place of its group's first
        record; other formats pass unchanged. The merged record's `meta.from` lists the ids it
        was made from (nothing is dropped; `merged` counts the records folded into another).
    Raises JouleError for max_questions < 1 or min_questions outside [1, max_questions].
    """

    def __init__(self, max_questions: int = 5, min_questions: int = 2, name: str | None = None):
        super().__init__(name)
        if max_questions < 1 or not 1 <= min_questions <= max_questions:
            raise JouleError(f"group_passages: need 1 <= min_questions <= max_questions, got "
                             f"min_questions={min_questions}, max_questions={max_questions}")
        self.max_questions, self.min_questions = max_questions, min_questions

    def run(self, records: list[dict], ctx: Context) -> Iterator[dict]:
        groups: dict[tuple[str, str], list[int]] = {}
        for i, record in enumerate(records):
            if format_name(record["format"]) in EXTRACTIVE_FORMATS:
                groups.setdefault((str(record["page_id"]), record["context"]), []).append(i)
        chunks = []
        for members in groups.values():
            chunks += [members[k:k + self.max_questions]
                       for k in range(0, len(members), self.max_questions)]
        merged_at: dict[int, dict] = {}
        absorbed: set[int] = set()
        for chunk in chunks:
            if len(chunk) < self.min_questions:
                continue
            merged_at[chunk[0]] = self._merge([records[i] for i in chunk])
            absorbed.update(chunk[1:])
        self.merged = len(absorbed)
        grouped = sum(len(c) for c in chunks if len(c) >= self.min_questions)
        self.info.update(questions_grouped=grouped, passage_records=len(merged_at),
                         passages=len(groups))
        for i, record in enumerate(records):
            if i in merged_at:
                yield merged_at[i]
            elif i not in absorbed:
                yield record

    @staticmethod
    def _merge(group: list[dict]) -> dict:
        first = group[0]
        questions = [r["question"] for r in group]
        answers = [r["answer"] for r in group]
        starts = [int(r["answer_start"]) for r in group]
        return {
            "id": record_id(FORMAT, first["page_id"], first["context"], questions, answers,
                            starts),
            "page_id": str(first["page_id"]),
            "title": first["title"],
            "format": FORMAT,
            "context": first["context"],
            "questions": questions,
            "answers": answers,
            "answer_starts": starts,
            "meta": dump_meta({"rule": "group_passages", "from": [r["id"] for r in group]}),
        }
