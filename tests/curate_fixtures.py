"""Fixture records of every format and a tiny SQuAD-format eval file, for the curate tests.

All text is made up here from a small word list (never copied from an eval set), seeded so the
same call gives the same records.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from joule.io import write_table
from joule.records import FORMAT_FIELDS, dump_meta, record_id

WORDS = (
    "river valley mountain castle harbour village forest bridge tower market church garden "
    "island desert canal temple palace fortress abbey meadow orchard quarry mill lighthouse "
    "engineer poet farmer merchant sailor bishop painter scholar soldier weaver baker miner "
    "built crossed painted founded carried measured drew sold mapped repaired taught guarded "
    "ancient northern golden quiet narrow broad early famous hidden royal wooden stone "
    "spring winter harvest century decade morning evening festival treaty charter voyage"
).split()


def sentence(rng: random.Random, n: int = 12) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    return " ".join([words[0].capitalize(), *words[1:]]) + "."


def make_record(fmt: str, page_id: str, title: str, meta: dict | None = None, **fields) -> dict:
    """A record as `rewriters.base.Rewriter.make_record` makes it (format `<fmt>.v1`)."""
    fields = {f: fields[f] for f in FORMAT_FIELDS[fmt]}
    return {"id": record_id(f"{fmt}.v1", page_id, *[fields[k] for k in sorted(fields)]),
            "page_id": page_id, "title": title, "format": f"{fmt}.v1", **fields,
            "meta": dump_meta(meta or {})}


def extractive(page_id: str, title: str, context: str, sentence_index: int, rng) -> dict:
    """An extractive-QA record whose answer is two words of one sentence of `context`."""
    sentences = context.split(". ")
    target = sentences[sentence_index].rstrip(".").split()
    k = rng.randrange(0, len(target) - 2)
    answer = " ".join(target[k:k + 2])
    before = ". ".join(sentences[:sentence_index])
    offset = len(before) + (2 if before else 0) + len(" ".join(target[:k])) + (1 if k else 0)
    assert context[offset:offset + len(answer)] == answer
    rest = [w.lower() for i, w in enumerate(target) if i not in (k, k + 1)][:6]
    question = "What " + " ".join(rest) + "?"
    return make_record("qa_extractive", page_id, title, context=context, question=question,
                       answer=answer, answer_start=offset)


def page_records(page: int, rng: random.Random) -> dict[str, list[dict]]:
    """Records of every format made from one made-up page."""
    pid, title = f"p{page}", f"Page {page}"
    sents = [sentence(rng, rng.randrange(9, 15)) for _ in range(4)]
    context = " ".join(sents[:3])
    qa = [extractive(pid, title, context, i, rng) for i in range(3)]
    closed = [make_record("qa_closed_book", pid, title,
                          question=f"Which {' '.join(s.lower().split()[1:6])}?",
                          answer=s.split()[-1].rstrip(".")) for s in sents[:2]]
    cloze = [make_record("cloze", pid, title, cloze=s.replace(s.split()[2], "____", 1),
                         answer=s.split()[2]) for s in sents[1:3]]
    options = [rng.choice(WORDS) + str(i) for i in range(4)]
    mc = [make_record("multiple_choice", pid, title, question=f"What did the {title} hold?",
                      options=options, answer_index=1, answer=options[1])]
    facts = [make_record("key_facts", pid, title, facts=sents[:2])]
    # page text in chunks of one or two paragraphs, so chunk sizes vary as real ones do
    raw = [make_record("raw", pid, title, text="\n\n".join(chunk))
           for chunk in (sents[:1], sents[1:3], sents[3:])]
    return {"qa_extractive": qa, "qa_closed_book": closed, "cloze": cloze,
            "multiple_choice": mc, "key_facts": facts, "raw": raw}


def corpus(pages: int = 8, seed: int = 0) -> dict[str, list[dict]]:
    """format name -> records, pages in order."""
    rng = random.Random(seed)
    out: dict[str, list[dict]] = {}
    for page in range(pages):
        for fmt, records in page_records(page, rng).items():
            out.setdefault(fmt, []).extend(records)
    return out


def write_records(data_dir: Path, records: dict[str, list[dict]]) -> None:
    """Write `records` as the rewrite stage does: `<data_dir>/records/<format>/part-0.parquet`."""
    for fmt, rows in records.items():
        (data_dir / "records" / fmt).mkdir(parents=True, exist_ok=True)
        write_table(data_dir / "records" / fmt / "part-00000.parquet", rows)


EVAL_CONTEXT = ("The lantern makers of the hill town carved their guild mark into every brass "
                "frame they sold at the autumn fair. Travellers paid in salt.")
EVAL_SENTENCE = ("The lantern makers of the hill town carved their guild mark into every brass "
                 "frame they sold at the autumn fair.")
EVAL_QUESTION = "What did the lantern makers carve into their brass frames?"   # 10 words


def write_eval(path: Path) -> Path:
    """A SQuAD v1.1-format file with two made-up passages and three questions."""
    data = {"version": "1.1", "data": [{"title": "Lanterns", "paragraphs": [
        {"context": EVAL_CONTEXT, "qas": [
            {"id": "q1", "question": EVAL_QUESTION,
             "answers": [{"text": "their guild mark", "answer_start": 46}]},
            {"id": "q2", "question": "How did travellers pay?",
             "answers": [{"text": "in salt", "answer_start": 125}]}]},
        {"context": "Ferries stopped running after the flood of the old harbour wall in spring.",
         "qas": [{"id": "q3", "question": "When did the ferries stop running?",
                  "answers": [{"text": "after the flood", "answer_start": 24}]}]}]}]}
    path.write_text(json.dumps(data))
    return path
