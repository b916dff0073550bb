"""Each curriculum step on fixture records, the runner's accounting, and every shipped config."""

from __future__ import annotations

import random

import pytest
from omegaconf import OmegaConf

from curricula.answer_in_context import AnswerInContext
from curricula.base import Context
from curricula.budget import TokenBudget
from curricula.curriculum import build_steps, run_steps
from curricula.decontaminate import Decontaminate
from curricula.dedup_exact import ExactDedup
from curricula.dedup_near import NearDedup
from curricula.difficulty import difficulty, lexical_overlap
from curricula.length import LengthBounds
from curricula.mix import Mix
from curricula.order import Order
from curricula.question_quality import QuestionQuality
from curricula.select_formats import SelectFormats
from joule.config import CONF_DIR, compose, curriculum_config
from joule.errors import JouleError
from joule.evalset import load_eval_set
from tests.curate_fixtures import (
    EVAL_QUESTION,
    EVAL_SENTENCE,
    corpus,
    make_record,
    sentence,
    write_eval,
)
from tests.tiny import tiny_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


@pytest.fixture()
def ctx(tokenizer):
    return Context(seed=0, token_budget=1000, tokenizer=tokenizer)


def everything(pages: int = 8, seed: int = 0) -> list[dict]:
    return [r for rows in corpus(pages, seed).values() for r in rows]


def apply(step, records, ctx):
    step.reset()
    kept = list(step.run(records, ctx))
    return kept, {r["id"]: (reason, detail) for r, reason, detail in step.dropped}


def qa(context="Aristotle taught Alexander in Macedon.", question="Who taught Alexander?",
       answer="Aristotle", start=0):
    return make_record("qa_extractive", "p1", "T", context=context, question=question,
                       answer=answer, answer_start=start)


# --- filters -------------------------------------------------------------------------------

def test_select_formats_keeps_named_formats_and_says_why_others_go(ctx):
    records = everything(2)
    kept, dropped = apply(SelectFormats(include=["qa_extractive", "raw"]), records, ctx)
    assert {r["format"] for r in kept} == {"qa_extractive.v1", "raw.v1"}
    assert len(kept) + len(dropped) == len(records)
    assert {reason for reason, _ in dropped.values()} == {"format_not_selected"}
    kept, _ = apply(SelectFormats(exclude=["raw"]), records, ctx)
    n_raw = sum(r["format"] == "raw.v1" for r in records)
    assert "raw.v1" not in {r["format"] for r in kept} and len(kept) == len(records) - n_raw
    with pytest.raises(JouleError, match="qa_nope"):
        SelectFormats(include=["qa_nope"])


def test_answer_in_context_drops_wrong_spans_only(ctx):
    good = qa()
    shifted = qa(start=3)
    empty = qa(answer="", start=0)
    other = make_record("qa_closed_book", "p1", "T", question="Who taught Alexander?",
                        answer="Aristotle")
    kept, dropped = apply(AnswerInContext(), [good, shifted, empty, other], ctx)
    assert [r["id"] for r in kept] == [good["id"], other["id"]]
    assert dropped[shifted["id"]][0] == "answer_not_in_context"
    assert "elsewhere" in dropped[shifted["id"]][1]
    assert dropped[empty["id"]][0] == "empty_answer"


@pytest.mark.parametrize("question,answer,reason", [
    ("Who taught Alexander", "Aristotle", "no_question_mark"),
    ("Who?", "Aristotle", "question_too_short"),
    ("Who " + "taught " * 45 + "Alexander?", "Aristotle", "question_too_long"),
    ("Alexander was taught by whom?", "Aristotle", "no_question_word"),
    ("Who was Aristotle, who taught Alexander?", "Aristotle", "answer_in_question"),
    ("Who taught Alexander in Macedon?", "Aristotle", None),
])
def test_question_quality(ctx, question, answer, reason):
    record = make_record("qa_closed_book", "p1", "T", question=question, answer=answer)
    kept, dropped = apply(QuestionQuality(), [record], ctx)
    assert (dropped[record["id"]][0] if dropped else None) == reason
    assert len(kept) == (reason is None)


def test_question_quality_passes_formats_without_questions(ctx):
    records = corpus(2)["raw"] + corpus(2)["cloze"]
    kept, _ = apply(QuestionQuality(), records, ctx)
    assert kept == records


def test_question_quality_leaves_cloze_framed_multiple_choice_alone(ctx):
    """A multiple-choice question is a cloze sentence, not a wh-question: not judged as one."""
    mc = make_record("multiple_choice", "p1", "T", question="Which option fills the blank "
                     "(____)? Paris is the capital of ____.", options=["France", "Spain", "Peru",
                     "Chad"], answer_index=0, answer="France")
    qa = make_record("qa_closed_book", "p1", "T", question="Paris is the capital of France.",
                     answer="France")
    kept, dropped = apply(QuestionQuality(), [mc, qa], ctx)
    assert [r["id"] for r in kept] == [mc["id"]]
    assert dropped[qa["id"]][0] == "no_question_mark"
    kept, _ = apply(QuestionQuality(formats=None), [mc], ctx)
    assert kept == []


def test_length_bounds_on_tokens_and_answer_words(ctx, tokenizer):
    records = everything(2)
    tokens = sorted(ctx.tokens(r) for r in records)
    low, high = tokens[3], tokens[-3]
    kept, dropped = apply(LengthBounds(min_tokens=low, max_tokens=high), records, ctx)
    assert all(low <= ctx.tokens(r) <= high for r in kept)
    assert {reason for reason, _ in dropped.values()} == {"too_few_tokens", "too_many_tokens"}
    assert len(dropped) == sum(not low <= t <= high for t in tokens) >= 4
    long_answer = qa(answer="Aristotle taught Alexander", start=0)
    kept, dropped = apply(LengthBounds(max_answer_words=2), [qa(), long_answer], ctx)
    assert dropped == {long_answer["id"]: ("answer_too_long", "3 > 2 words")}


# --- dedup ----------------------------------------------------------------------------------

def test_exact_dedup_ignores_case_and_punctuation_and_keeps_the_first(ctx):
    first = qa()
    copy = qa(context="aristotle taught Alexander, in Macedon!", question="who taught alexander",
              answer="aristotle")
    other = qa(question="Where did Aristotle teach?", answer="Macedon", start=31)
    kept, dropped = apply(ExactDedup(), [first, copy, other], ctx)
    assert kept == [first, other]
    assert dropped == {copy["id"]: ("exact_duplicate", f"of {first['id']}")}


def _paraphrase(text: str, changes: int) -> str:
    """`text` with `changes` words swapped for words the fixtures never use."""
    words = text.split()
    for k in range(changes):
        words[3 + 7 * k] = f"zzq{k}"
    return " ".join(words)


def test_near_dedup_removes_planted_paraphrases_and_nothing_else(ctx):
    rng = random.Random(5)
    texts = [" ".join(sentence(rng, 12) for _ in range(4)) for _ in range(8)]   # ~48 words
    originals = [make_record("raw", f"q{i}", "T", text=t) for i, t in enumerate(texts)]
    records = everything(8) + originals
    planted = [make_record("raw", "p-copy", "Copy", text=_paraphrase(texts[i], 1))
               for i in (0, 3)]
    planted.append(make_record("raw", "p-copy", "Copy", text=_paraphrase(texts[5], 2)))
    kept, dropped = apply(NearDedup(threshold=0.6, shingle_size=3), records + planted, ctx)
    assert kept == records
    assert set(dropped) == {p["id"] for p in planted}
    assert all(reason == "near_duplicate" for reason, _ in dropped.values())
    assert originals[0]["id"] in dropped[planted[0]["id"]][1]


def test_near_dedup_compares_within_a_format_unless_told_not_to(ctx):
    text = "Fortress island soldier treaty abbey founded island market drew spring island."
    raw = make_record("raw", "p1", "T", text=text)
    facts = make_record("key_facts", "p1", "T", facts=[text])
    assert len(apply(NearDedup(), [raw, facts], ctx)[0]) == 2
    assert len(apply(NearDedup(within_format=False), [raw, facts], ctx)[0]) == 1


def test_near_dedup_is_seeded(ctx):
    records = everything(4)
    near = [make_record("raw", "x", "X", text=_paraphrase(" ".join(r["facts"]), 2))
            for r in corpus(4)["key_facts"]]
    runs = [apply(NearDedup(threshold=0.6, num_perm=32, seed=s), records + near, ctx)[1]
            for s in (1, 1, 2)]
    assert runs[0] == runs[1]


# --- decontamination ------------------------------------------------------------------------

@pytest.fixture()
def eval_ctx(tmp_path, tokenizer):
    cfg = compose([f"eval.path={write_eval(tmp_path / 'eval.json')}"]).eval
    return Context(seed=0, token_budget=1000, tokenizer=tokenizer, eval_cfg=cfg)


def test_decontamination_removes_planted_eval_text(eval_ctx):
    records = everything(4)
    in_raw = make_record("raw", "p9", "T", text="Some words first. " + EVAL_SENTENCE.upper())
    in_context = qa(context=f"{EVAL_SENTENCE} Aristotle taught Alexander.",
                    question="Who taught Alexander?", answer="Aristotle",
                    start=len(EVAL_SENTENCE) + 1)
    as_question = make_record("qa_closed_book", "p9", "T", question=EVAL_QUESTION.lower(),
                              answer="a guild mark")
    twelve = " ".join(EVAL_SENTENCE.split()[:12])       # 12 words: under the 13-gram test
    near_miss = make_record("raw", "p9", "T", text=f"{twelve} and then something else.")
    step = Decontaminate(n=13)
    kept, dropped = apply(step, records + [in_raw, in_context, as_question, near_miss], eval_ctx)
    assert kept == records + [near_miss]
    assert dropped[in_raw["id"]][0] == "eval_overlap_context"
    assert dropped[in_context["id"]][0] == "eval_overlap_context"
    assert dropped[as_question["id"]][0] == "eval_overlap_question"
    assert "q1" in dropped[as_question["id"]][1]
    assert step.info["eval_questions"] == 3 and step.info["eval_contexts"] == 2


def test_decontamination_uses_every_eval_question_not_the_scored_sample(tmp_path, tokenizer):
    cfg = compose([f"eval.path={write_eval(tmp_path / 'eval.json')}",
                   "eval.max_questions=1"]).eval
    assert len(load_eval_set(cfg)) == 1
    ctx = Context(tokenizer=tokenizer, eval_cfg=cfg)
    planted = [make_record("qa_closed_book", "p", "T", question=q, answer="x") for q in
               ("What did the lantern makers carve into their brass frames?",
                "So when did the ferries stop running? Nobody knows, said the harbour clerk.")]
    kept, dropped = apply(Decontaminate(n=13, min_short_words=5), planted, ctx)
    assert kept == [] and len(dropped) == 2


def test_decontamination_without_an_eval_set_is_an_error(ctx):
    with pytest.raises(JouleError, match="eval"):
        apply(Decontaminate(), everything(1), ctx)


# --- mixing and ordering --------------------------------------------------------------------

def test_mix_draws_each_format_share_by_weight_to_exactly_the_total(ctx):
    records = everything(8)
    ctx.token_budget = 3000
    step = Mix(weights={"qa_extractive": 0.6, "cloze": 0.2, "key_facts": 0.2})
    kept, dropped = apply(step, records, ctx)
    tokens = {}
    for r in kept:
        tokens[r["format"]] = tokens.get(r["format"], 0) + ctx.tokens(r)
    assert sum(tokens.values()) == 3000 and step.info["exact"] is True
    assert set(tokens) == {"qa_extractive.v1", "cloze.v1", "key_facts.v1"}
    largest = max(ctx.tokens(r) for r in records)
    for fmt, share in (("qa_extractive", 1800), ("cloze", 600), ("key_facts", 600)):
        assert abs(tokens[f"{fmt}.v1"] - share) <= 2 * largest
    reasons = {reason for reason, _ in dropped.values()}
    assert reasons == {"format_share_full", "format_not_in_mix"}
    assert [r for r in records if r in kept] == kept          # input order is kept
    assert step.info["short_formats"] == {}


def test_mix_is_seeded_and_reports_short_formats(ctx):
    records = everything(8)
    ctx.token_budget = 3000
    picks = []
    for seed in (0, 0, 1):
        ctx.seed = seed
        picks.append([r["id"] for r in apply(Mix(weights={"qa_extractive": 1}), records, ctx)[0]])
    assert picks[0] == picks[1] != picks[2]
    step = Mix(weights={"qa_extractive": 0.5, "multiple_choice": 0.5}, tokens=5000)
    kept, _ = apply(step, records, ctx)
    assert set(step.info["short_formats"]) == {"multiple_choice"}
    # the short format is taken whole and the other one fills its share (these fixture QA
    # records are all ~300 tokens, too alike in size for an exact fill)
    assert sum(r["format"] == "multiple_choice.v1" for r in kept) == 8
    largest = max(ctx.tokens(r) for r in records)
    assert 5000 - largest < sum(ctx.tokens(r) for r in kept) <= 5000
    with pytest.raises(JouleError, match="mix.weights"):
        Mix(weights={"qa_extractive": 0})


def test_difficulty_prefers_questions_that_repeat_their_sentence():
    context = "The bridge was built in 1820. Later the town grew around the harbour."
    easy = qa(context=context, question="When was the bridge built?", answer="1820", start=23)
    hard = qa(context=context, question="In what year did construction finish?", answer="1820",
              start=23)
    assert lexical_overlap(easy["question"], "The bridge was built in 1820.") == 1.0
    assert difficulty(easy) < difficulty(hard)
    long_answer = qa(context=context, question="When was the bridge built?",
                     answer="The bridge was built in 1820", start=0)
    assert difficulty(easy) < difficulty(long_answer)


def test_order_easy_to_hard_and_seeded_shuffle(ctx):
    records = everything(4)
    kept, dropped = apply(Order(mode="easy_to_hard"), records, ctx)
    scores = [difficulty(r) for r in kept]
    assert scores == sorted(scores) and not dropped and sorted(map(id, kept)) == sorted(
        map(id, records))
    assert apply(Order(mode="hard_to_easy"), records, ctx)[0][0] == kept[-1]
    shuffles = []
    for seed in (3, 3, 4):
        ctx.seed = seed
        shuffles.append([r["id"] for r in apply(Order(mode="shuffle"), records, ctx)[0]])
    assert shuffles[0] == shuffles[1] != shuffles[2]
    assert shuffles[0] != [r["id"] for r in records]
    with pytest.raises(JouleError, match="order.mode"):
        Order(mode="sideways")


# --- token budget ---------------------------------------------------------------------------

def test_budget_cut_is_exact_and_never_splits_a_record(ctx):
    records = everything(8)
    tokens = [ctx.tokens(r) for r in records]
    # A budget that the first records overshoot, so a misfit must be skipped and a later
    # smaller record fill the gap exactly.
    budget = tokens[0] + tokens[1] + min(tokens[3:])
    kept, dropped = apply(TokenBudget(tokens=budget), records, ctx)
    assert sum(ctx.tokens(r) for r in kept) == budget
    assert all(r in records for r in kept)                      # whole records, unchanged
    assert kept[:2] == records[:2]
    assert {reason for reason, _ in dropped.values()} <= {"does_not_fit", "budget_full"}
    assert len(kept) + len(dropped) == len(records)


def test_budget_says_when_a_curriculum_runs_short(ctx):
    records = everything(1)
    total = sum(ctx.tokens(r) for r in records)
    step = TokenBudget(tokens=total + 50)
    kept, _ = apply(step, records, ctx)
    assert kept == records
    assert step.info["budget_met"] is False and step.info["short_by_tokens"] == 50
    assert "ran out of records" in step.info["short_reason"]
    ctx.token_budget = None
    with pytest.raises(JouleError, match="token_budget"):
        apply(TokenBudget(), records, ctx)


# --- runner and shipped configs -------------------------------------------------------------

def test_run_steps_accounts_for_every_record(eval_ctx):
    records = everything(8)
    records.append(make_record("raw", "p9", "T", text=EVAL_SENTENCE))
    records.append(records[0])                                   # an exact duplicate
    steps = build_steps(curriculum_config(compose(), "curated_passages"))
    result = run_steps(records, steps, eval_ctx)
    merged = sum(s["merged"] for s in result.steps)
    assert merged > 0   # group_passages folds a passage's questions into one record
    assert len(result.records) + len(result.excluded) + merged == len(records)
    assert all(e["step"] and e["reason"] for e in result.excluded)
    for before, after in zip(result.steps, result.steps[1:], strict=False):
        assert before["records_out"] == after["records_in"]
        assert before["tokens_out"] == after["tokens_in"]
    for stat in result.steps:
        assert stat["records_in"] - stat["records_out"] - stat["merged"] == stat["dropped"] == sum(
            stat["drops_by_reason"].values())
    assert sum(eval_ctx.tokens(r) for r in result.records) == eval_ctx.token_budget


SHIPPED = sorted(p.stem for p in (CONF_DIR / "curricula").glob("*.yaml"))


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_curriculum_instantiates(name):
    cfg = curriculum_config(compose(), name)
    assert cfg.name == name
    steps = build_steps(cfg)
    assert type(steps[-1]).__name__ == "TokenBudget"
    first_line = (CONF_DIR / "curricula" / f"{name}.yaml").read_text().splitlines()[0]
    assert first_line == f"# python -m pipeline.curate curriculum={name}"


def test_the_experiment_runs_the_four_curricula():
    assert set(compose().curricula) >= {"curated", "raw", "synthetic_all", "curated_shuffled"}


def test_curated_shuffled_is_curated_with_a_shuffled_order():
    curated = OmegaConf.to_container(curriculum_config(compose(), "curated").steps)
    shuffled = OmegaConf.to_container(curriculum_config(compose(), "curated_shuffled").steps)
    assert list(curated) == list(shuffled)                      # same steps, same order
    differ = [key for key in curated if curated[key] != shuffled[key]]
    assert differ == ["order"]
    assert shuffled["order"] == {**curated["order"], "mode": "shuffle"}


def test_a_step_knob_is_addressed_by_the_step_name_and_derived_curricula_follow():
    cfg = compose(["curricula.curated.steps.mix.weights.qa_extractive=0.9"])
    assert curriculum_config(cfg, "curated").steps.mix.weights.qa_extractive == 0.9
    # curated_shuffled derives from the curated *file*; an override of curated's instance in the
    # experiment does not leak into it
    assert curriculum_config(cfg, "curated_shuffled").steps.mix.weights.qa_extractive == 0.6


def test_a_removed_step_is_skipped_and_step_names_are_the_keys():
    cfg = OmegaConf.create({"name": "x", "steps": {
        "only_qa": {"_target_": "curricula.select_formats.SelectFormats",
                    "include": ["qa_extractive"]},
        "order": None,
        "token_budget": {"_target_": "curricula.budget.TokenBudget"}}})
    assert [s.name for s in build_steps(cfg)] == ["only_qa", "token_budget"]


def test_bad_step_configs_name_the_step():
    bad = OmegaConf.create({"name": "x", "steps": {"mix": {"_target_": "curricula.mix.Mix",
                                                           "weights": {"nope": 1}}}})
    with pytest.raises(JouleError, match=r"steps\.mix"):
        build_steps(bad)
    with pytest.raises(JouleError, match="no `steps:`"):
        build_steps(OmegaConf.create({"name": "x", "steps": {}}))
    with pytest.raises(JouleError, match="mapping of step name"):
        build_steps(OmegaConf.create({"name": "x", "steps": [{"_target_": "x.Y"}]}))


class _Sized(Context):
    """A context whose records carry their token count (`n`), to drive the budget by hand."""

    def tokens(self, record: dict) -> int:
        return record["n"]


def test_budget_swaps_one_record_to_meet_the_budget_exactly():
    records = [{"id": str(i), "n": n} for i, n in enumerate([50, 50, 30, 40, 25, 45])]
    ctx = _Sized(token_budget=120)
    step = TokenBudget()
    kept, dropped = apply(step, records, ctx)
    assert [r["id"] for r in kept] == ["0", "2", "3"]           # 50 + 30 + 40, order kept
    assert dropped["1"][0] == "swapped_for_exact_fit"
    assert step.info["budget_met"] is True and step.info["swapped"] is True
    step = TokenBudget(exact_fill=False)
    kept, dropped = apply(step, records, ctx)
    assert [r["id"] for r in kept] == ["0", "1"]
    assert step.info["short_by_tokens"] == 20 and not step.info["budget_met"]
    assert "4 remaining records were each longer than the 20 tokens" in step.info["short_reason"]
    assert {reason for reason, _ in dropped.values()} == {"does_not_fit"}


def test_a_record_that_cannot_be_formatted_is_a_clear_error(ctx):
    bad = {**make_record("raw", "p1", "T", text="x"), "format": "poetry.v1", "id": "bad"}
    with pytest.raises(JouleError, match="record bad .*poetry.v1"):
        ctx.tokens(bad)
