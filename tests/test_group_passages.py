"""GroupPassages (curricula/group_passages.py) and the multi-turn qa_passage format."""

from __future__ import annotations

import pytest

from curricula.base import Context
from curricula.curriculum import run_steps
from curricula.difficulty import difficulty
from curricula.group_passages import GroupPassages
from joule.errors import JouleError
from joule.formats import chat_turns, prompt_and_answer, tokenize_record
from tests.curate_fixtures import make_record
from tests.tiny import tiny_tokenizer

PASSAGE = "Aristotle taught Alexander in Macedon. Alexander became king in 336 BC."


def qa(question, answer, context=PASSAGE, page="p1"):
    return make_record("qa_extractive", page, "T", context=context, question=question,
                       answer=answer, answer_start=context.index(answer))


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def records():
    return [
        qa("Who taught Alexander?", "Aristotle"),
        make_record("cloze", "p1", "T", cloze="____ taught Alexander.", answer="Aristotle"),
        qa("When did Alexander become king?", "336 BC"),
        qa("Where did Aristotle teach Alexander?", "Macedon"),
        qa("Who was taught?", "Alexander", context="Alexander was taught.", page="p1"),
        qa("Who taught Alexander?", "Aristotle", page="p2"),   # same passage, another page
    ]


def test_groups_questions_of_one_passage_in_order_and_keeps_the_rest(tokenizer):
    step = GroupPassages(max_questions=2, min_questions=2)
    out = run_steps(records(), [step], Context(tokenizer=tokenizer))
    formats = [r["format"] for r in out.records]
    # p1's passage: 3 questions -> one record of 2 (at the first's place) + 1 left single
    assert formats == ["qa_passage.v1", "cloze.v1", "qa_extractive.v1", "qa_extractive.v1",
                       "qa_extractive.v1"]
    merged = out.records[0]
    assert merged["questions"] == ["Who taught Alexander?", "When did Alexander become king?"]
    assert merged["answers"] == ["Aristotle", "336 BC"]
    assert [merged["context"][s:s + len(a)] for s, a in
            zip(merged["answer_starts"], merged["answers"], strict=True)] == merged["answers"]
    assert out.records[2]["question"] == "Where did Aristotle teach Alexander?"
    assert step.merged == 1 and not step.dropped
    assert out.steps[0]["merged"] == 1 and out.steps[0]["records_out"] == 5


def test_min_questions_one_turns_every_question_into_a_passage_record(tokenizer):
    out = run_steps(records(), [GroupPassages(max_questions=5, min_questions=1)],
                    Context(tokenizer=tokenizer))
    assert sorted(r["format"] for r in out.records) == ["cloze.v1"] + ["qa_passage.v1"] * 3
    assert max(len(r["questions"]) for r in out.records if r["format"] == "qa_passage.v1") == 3


def test_bad_sizes_are_refused():
    with pytest.raises(JouleError, match="min_questions"):
        GroupPassages(max_questions=2, min_questions=3)
    with pytest.raises(JouleError, match="max_questions"):
        GroupPassages(max_questions=0, min_questions=1)


def test_passage_record_is_a_conversation_with_the_loss_on_every_answer(tokenizer):
    merged = list(GroupPassages(min_questions=2).run(records()[:3], Context()))[0]
    turns = chat_turns(merged)
    assert turns[0] == prompt_and_answer(records()[0])     # the eval prompt opens it
    assert turns[1] == ("Question: When did Alexander become king?", "336 BC")
    ids, labels = tokenize_record(merged, tokenizer)
    assert len(ids) == len(labels)
    learned = tokenizer.decode([t for t in labels if t != -100])
    assert learned == "Aristotle<|im_end|>336 BC<|im_end|>"
    # the first turn is token for token the one-question record (the same prompt and answer)
    single_ids, single_labels = tokenize_record(records()[0], tokenizer)
    assert ids[:len(single_ids)] == single_ids and labels[:len(single_labels)] == single_labels
    # the passage is paid once: two questions cost less than two one-question records
    two = len(single_ids) + len(tokenize_record(records()[2], tokenizer)[0])
    assert len(ids) < two


def test_unequal_questions_and_answers_are_an_error():
    bad = {"format": "qa_passage.v1", "context": PASSAGE, "questions": ["Who?", "When?"],
           "answers": ["Aristotle"], "answer_starts": [0]}
    with pytest.raises(ValueError, match="as many answers"):
        chat_turns(bad)
    with pytest.raises(ValueError, match="chat_turns"):
        prompt_and_answer(bad)


def test_difficulty_of_a_passage_record_averages_its_questions():
    merged = list(GroupPassages(min_questions=2).run(records()[:3], Context()))[0]
    easy = difficulty(merged, length_weight=0, answer_weight=0)
    one = difficulty(records()[0], length_weight=0, answer_weight=0)
    two = difficulty(records()[2], length_weight=0, answer_weight=0)
    assert easy == pytest.approx((one + two) / 2)


def test_sample_shows_a_curriculum_s_passage_records_turn_by_turn(tmp_path):
    from joule.io import write_table
    from rewriters.sample import sample_markdown

    merged = list(GroupPassages(min_questions=2).run(records()[:3], Context()))
    out = tmp_path / "curricula" / "curated"
    out.mkdir(parents=True)
    keys = sorted({k for r in merged for k in r})
    write_table(out / "train.parquet", [{k: r.get(k) for k in keys} for r in merged])
    text = sample_markdown(tmp_path, n=5, seed=0, curriculum="curated")
    assert "## qa_passage (1 records)" in text and "## cloze (1 records)" in text
    assert "> Question: Who taught Alexander?" in text
    assert "> Question: When did Alexander become king?" in text and "    336 BC" in text
    with pytest.raises(JouleError, match="curate curriculum=nope"):
        sample_markdown(tmp_path, n=5, seed=0, curriculum="nope")
