"""Scoring checkpoints on held-out questions: which checkpoints, which questions, the prompts, and
SQuAD scores of an engine's answers.

Question sets: every checkpoint is scored on the seeded sample of `eval.max_questions` (one
curve on one set of questions); with `eval.last_on_full` the last checkpoint of a curriculum
(and the base model) also answers every other question of the eval file, and its entry adds
the scores on the whole file under `full`. `question_set` says which set a score is on: `full`
where the sample already is the whole file, else `sample`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from evaluation.common import Answer
from evaluation.engine import Engine
from evaluation.squad import score
from joule.errors import JouleError
from joule.evalset import load_eval_set
from joule.formats import chat_prompt_ids, closed_book_prompt, extractive_qa_prompt
from joule.io import read_json

BASE = "base"
MODES = ("open_book", "closed_book")
SAMPLE, FULL = "sample", "full"


def question_prompt(row: dict, mode: str) -> str:
    """The user turn for one held-out question: the training prompt of its format."""
    if mode == "open_book":
        return extractive_qa_prompt(row["context"], row["question"])
    if mode == "closed_book":
        return closed_book_prompt(row["question"])
    raise JouleError(f"eval.mode={mode!r} is not one of {', '.join(MODES)}")


def checkpoints_to_score(cfg: DictConfig, name: str) -> list[dict]:
    """Checkpoints of curriculum `name` to score, each with `adapter` (a dir, or None for base).

    `eval.checkpoints` is `all` (every entry of checkpoints.json, in its order) or `last` (the
    one named by its `final`). Training figures (tokens, energy_j, ...) are cumulative since
    training started, as train writes them. `is_final` marks the curriculum's final checkpoint
    (the base model's one entry is its own final).
    """
    which = cfg.eval.checkpoints
    if which not in ("all", "last"):
        raise JouleError(f"eval.checkpoints={which!r} must be 'all' or 'last'")
    if name == BASE:
        return [{"name": BASE, "fraction": 0.0, "tokens": 0, "energy_j": 0.0,
                 "energy_source": "none: no training", "adapter": None, "is_final": True}]
    models = Path(cfg.data_dir) / "models" / name
    index_file = models / "checkpoints.json"
    index = read_json(index_file)
    try:
        entries = list(index["checkpoints"])
        final = index["final"]
        if not entries:
            raise JouleError(f"{index_file} lists no checkpoints")
        if which == "last":
            entries = [e for e in entries if e["name"] == final]
            if not entries:
                raise JouleError(f"{index_file}: final checkpoint {final!r} is not in its list")
        out = []
        for e in entries:
            adapter = models / e["path"]
            if not (adapter / "adapter_config.json").is_file():
                raise JouleError(f"{index_file}: checkpoint {e['name']!r} has no peft adapter at "
                                 f"{adapter} (no adapter_config.json)")
            out.append({"name": e["name"], "fraction": float(e.get("fraction", 1.0)),
                        "tokens": int(e["tokens"]), "energy_j": float(e["energy_j"]),
                        "energy_source": e["energy_source"], "adapter": adapter,
                        "is_final": e["name"] == final})
    except (KeyError, TypeError) as exc:
        raise JouleError(f"{index_file} is not a checkpoints index (missing {exc})") from exc
    return out


@dataclass(frozen=True)
class QuestionSets:
    """The seeded sample (every checkpoint), the eval file's other questions (`rest`: the last
    checkpoint's, with `eval.last_on_full`; else empty), and the file's question count."""

    sample: list[dict]
    rest: list[dict]
    total: int

    @property
    def sample_set(self) -> str:
        """`full` where the sample is the whole file, else `sample`."""
        return FULL if len(self.sample) == self.total else SAMPLE


def question_sets(eval_cfg: DictConfig) -> QuestionSets:
    """Load the eval set's sample and, with `eval.last_on_full`, the rest of the file.

    The rest is told apart from the sample by question id, so ids must be unique."""
    sample = load_eval_set(eval_cfg)
    everything = load_eval_set(eval_cfg, sample=False)
    ids = [r["id"] for r in everything]
    if len(set(ids)) != len(ids):
        raise JouleError(f"eval={eval_cfg.name}: question ids are not unique; the sample and the "
                         f"full set cannot be told apart")
    chosen = {r["id"] for r in sample}
    rest = ([r for r in everything if r["id"] not in chosen]
            if eval_cfg.get("last_on_full", False) else [])
    return QuestionSets(sample, rest, len(everything))


def answer_questions(engine: Engine, model, rows: list[dict], eval_cfg: DictConfig
                     ) -> list[Answer]:
    """The engine's answers to `rows` in the eval mode's prompts, in order."""
    prompts = [chat_prompt_ids(engine.tokenizer, question_prompt(r, eval_cfg.mode)) for r in rows]
    # open book: the questions on one passage share its prompt prefix (an engine may compute it
    # once)
    groups = [r["context"] for r in rows] if eval_cfg.mode == "open_book" else None
    return engine.generate(model, prompts, max_new_tokens=int(eval_cfg.max_new_tokens),
                           groups=groups)


def _scores(rows: list[dict], answers: list[Answer], eval_cfg: DictConfig, seed: int
            ) -> tuple[dict, list[float], list[float]]:
    result = score([a.text for a in answers], [r["answers"] for r in rows],
                   bootstrap_samples=int(eval_cfg.bootstrap_samples), seed=seed)
    return result, result.pop("f1s"), result.pop("ems")


def _costs(answers: list[Answer]) -> dict:
    return {"prompt_tokens": sum(a.prompt_tokens for a in answers),
            # fewer than prompt_tokens where an engine computes a shared prefix once
            "computed_prompt_tokens": round(sum(a.computed_prompt_tokens for a in answers)),
            "generated_tokens": sum(a.new_tokens for a in answers)}


def score_checkpoint(engine: Engine, model, sets: QuestionSets, eval_cfg: DictConfig, seed: int,
                     on_full: bool = False) -> tuple[dict, list[dict]]:
    """Ask `model` the sample's questions (and with `on_full` the rest of the file too).

    Returns the scores and the per-question rows. Scores (0-100, 95% bootstrap intervals):
    f1, em, n, f1_ci95, em_ci95 on the sample, `question_set` naming it; with `on_full` also
    `full` (the same keys on every question of the file, `question_set: full`). Token counts
    (prompt, computed prompt, generated) cover every question asked. Per-question rows: id,
    question, prediction, answers, f1, em (0-1) and `in_sample`, in the order sample then rest.
    """
    answers = answer_questions(engine, model, sets.sample, eval_cfg)
    result, f1s, ems = _scores(sets.sample, answers, eval_cfg, seed)
    result["question_set"] = sets.sample_set
    rows, flags = list(sets.sample), [True] * len(sets.sample)
    if on_full:
        if sets.rest:
            answers = answers + answer_questions(engine, model, sets.rest, eval_cfg)
            rows += sets.rest
            flags += [False] * len(sets.rest)
            full, f1s, ems = _scores(rows, answers, eval_cfg, seed)
        else:
            full = {k: result[k] for k in ("f1", "em", "n", "f1_ci95", "em_ci95")}
        result["full"] = {**full, "question_set": FULL}
    result.update(_costs(answers))
    predictions = [{"id": r["id"], "question": r["question"], "prediction": a.text,
                    "answers": list(r["answers"]), "f1": f1, "em": em, "in_sample": flag}
                   for r, a, f1, em, flag in zip(rows, answers, f1s, ems, flags, strict=True)]
    return result, predictions


def score_model(engine: Engine, model, rows: list[dict], eval_cfg: DictConfig, seed: int
                ) -> tuple[dict, list[dict]]:
    """`score_checkpoint` on `rows` alone (treated as the whole set)."""
    return score_checkpoint(engine, model, QuestionSets(list(rows), [], len(rows)), eval_cfg,
                            seed)
