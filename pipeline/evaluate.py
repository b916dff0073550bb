"""Stage `evaluate`: score a curriculum's checkpoints (or the base model) on held-out questions.

    python -m pipeline.evaluate curriculum=<name>        # every checkpoint in checkpoints.json
    python -m pipeline.evaluate curriculum=<name> eval.checkpoints=last
    python -m pipeline.evaluate curriculum=base          # the base model, no adapter

Reads `<data_dir>/models/<name>/checkpoints.json` (written by train) and the base model at
`model.dir`; writes `<metrics_dir>/eval/<name>.json` (SQuAD F1/EM with 95% intervals for the final
checkpoint and for every checkpoint, beside its training tokens and energy) and the answers to
every question, `<eval.predictions_dir>/<name>/<checkpoint>.jsonl`.
"""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import DictConfig

from evaluation.cpu_shared_prefix.generate import (
    for_generation,
    generate_answers,
    load_model,
    stop_token_ids,
)
from evaluation.squad import score
from joule.config import run
from joule.errors import JouleError
from joule.evalset import load_eval_set
from joule.flops import inference_flops, matmul_params
from joule.formats import chat_prompt_ids, closed_book_prompt, extractive_qa_prompt
from joule.io import atomic_dir, read_json
from pipeline.stage import stage_run

BASE = "base"
MODES = ("open_book", "closed_book")


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
    training started, as train writes them.
    """
    which = cfg.eval.checkpoints
    if which not in ("all", "last"):
        raise JouleError(f"eval.checkpoints={which!r} must be 'all' or 'last'")
    if name == BASE:
        return [{"name": BASE, "fraction": 0.0, "tokens": 0, "energy_j": 0.0,
                 "energy_source": "none: no training", "adapter": None}]
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
                        "energy_source": e["energy_source"], "adapter": adapter})
    except (KeyError, TypeError) as exc:
        raise JouleError(f"{index_file} is not a checkpoints index (missing {exc})") from exc
    return out


def score_model(model, tokenizer, rows: list[dict], eval_cfg: DictConfig, seed: int,
                stops: list[int] | None = None) -> tuple[dict, list[dict]]:
    """Ask `model` every question; SQuAD scores (0-100, with intervals) and per-question rows."""
    prompts = [chat_prompt_ids(tokenizer, question_prompt(r, eval_cfg.mode)) for r in rows]
    # open book: the questions on one passage share its prompt prefix, and all prompts share
    # the instruction before it: each computed once per batch (cpu_shared_prefix.prompt_tree)
    groups = [r["context"] for r in rows] if eval_cfg.mode == "open_book" else None
    answers = generate_answers(model, tokenizer, prompts, batch_size=int(eval_cfg.batch_size),
                               max_new_tokens=int(eval_cfg.max_new_tokens), stops=stops,
                               threads=eval_cfg.threads, groups=groups,
                               workers=eval_cfg.workers)
    result = score([a.text for a in answers], [r["answers"] for r in rows],
                   bootstrap_samples=int(eval_cfg.bootstrap_samples), seed=seed)
    predictions = [{"id": r["id"], "question": r["question"], "prediction": a.text,
                    "answers": list(r["answers"]), "f1": f1, "em": em}
                   for r, a, f1, em in zip(rows, answers, result.pop("f1s"), result.pop("ems"),
                                           strict=True)]
    result["prompt_tokens"] = sum(a.prompt_tokens for a in answers)
    # fewer than prompt_tokens where questions share a passage's prefix
    result["computed_prompt_tokens"] = round(sum(a.computed_prompt_tokens for a in answers))
    result["generated_tokens"] = sum(a.new_tokens for a in answers)
    return result, predictions


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n"
                            for r in rows), encoding="utf-8")


def main(cfg: DictConfig) -> dict:
    """Score the checkpoints of `cfg.curriculum` (or the base model); return the metrics."""
    from transformers import AutoTokenizer

    name = str(cfg.curriculum)
    question_prompt({"context": "", "question": ""}, cfg.eval.mode)  # bad mode fails up front
    with stage_run(cfg, "evaluate", f"eval/{name}.json") as stage:
        checkpoints = checkpoints_to_score(cfg, name)
        rows = load_eval_set(cfg.eval)
        model_dir = Path(cfg.model.dir)
        if not (model_dir / "config.json").is_file():
            raise JouleError(f"model.dir={model_dir} holds no model (config.json); "
                             "run `python -m pipeline.base_model` first")
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        base = load_model(model_dir, dtype=cfg.model.dtype)
        stops = stop_token_ids(tokenizer)
        n_params = matmul_params(base)
        scored = []
        with atomic_dir(Path(cfg.eval.predictions_dir) / name) as out:
            for ck in checkpoints:
                window = f"evaluate/{ck['name']}"
                with stage.meter.window(window) as cost:
                    model = for_generation(base, ck["adapter"], cfg.eval.dtype)
                    result, predictions = score_model(model, tokenizer, rows, cfg.eval, cfg.seed,
                                                      stops)
                    del model
                _write_jsonl(out / f"{ck['name']}.jsonl", predictions)
                spent = cost["result"]
                tokens = result["computed_prompt_tokens"] + result["generated_tokens"]
                entry = {k: v for k, v in ck.items() if k != "adapter"}
                entry.update(result, eval_time_s=spent.time_s, eval_energy_j=spent.energy_j,
                             eval_energy_source=spent.energy_source,
                             questions_per_s=len(rows) / spent.time_s if spent.time_s else 0.0,
                             inference_flops=inference_flops(n_params, tokens))
                scored.append(entry)
        final = scored[-1]
        stage.metrics.update(
            curriculum=name, model=str(cfg.model.name), eval_set=str(cfg.eval.name),
            mode=str(cfg.eval.mode), final=final["name"], n=final["n"],
            f1=final["f1"], em=final["em"], f1_ci95=final["f1_ci95"], em_ci95=final["em_ci95"],
            checkpoints=scored,
            inference_flops=sum(c["inference_flops"] for c in scored),
            flops_formula="2 * matmul_params * (computed prompt + generated tokens), per "
                          "checkpoint; a prefix shared within a batch (the instruction, a "
                          "passage) counts once")
    return stage.metrics


if __name__ == "__main__":
    run(main)
