"""Stage `evaluate`: score a curriculum's checkpoints (or the base model) on held-out questions.

    python -m pipeline.evaluate curriculum=<name>        # every checkpoint in checkpoints.json
    python -m pipeline.evaluate curriculum=<name> eval.checkpoints=last
    python -m pipeline.evaluate curriculum=base          # the base model, no adapter
    python -m pipeline.evaluate curriculum=<name>-seed<s>    # the run of training seed s
    python -m pipeline.evaluate curriculum=<name> engine=hf engine.device=cuda   # on a GPU

Reads `<data_dir>/models/<name>/checkpoints.json` (written by train) and the base model at
`model.dir`; generates with the engine of `conf/engine/` (`evaluation.engine`); writes
`<metrics_dir>/eval/<name>.json` (SQuAD F1/EM with 95% intervals for the final checkpoint and
for every checkpoint, beside its training tokens and energy; the final one also on the whole
eval file with `eval.last_on_full`, under `full`) and the answers to every question asked,
`<eval.predictions_dir>/<name>/<checkpoint>.jsonl`. A run key `<name>-seed<s>` (`joule.runs`) reads
and writes under that key; every run is asked the same questions (the sample is drawn with `seed`,
not the training seed), so the report pairs runs question by question.
"""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import DictConfig

from evaluation.engine import make_engine
from evaluation.scoring import (
    BASE,
    checkpoints_to_score,
    question_prompt,
    question_sets,
    score_checkpoint,
)
from joule.config import run
from joule.errors import JouleError
from joule.flops import inference_flops, matmul_params
from joule.io import atomic_dir
from joule.runs import parse_run
from pipeline.stage import stage_run

_SCORES = ("n", "f1", "em", "f1_ci95", "em_ci95", "question_set")


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n"
                            for r in rows), encoding="utf-8")


def main(cfg: DictConfig) -> dict:
    """Score the checkpoints of run `cfg.curriculum` (or the base model); return the metrics."""
    name = str(cfg.curriculum)
    spec = parse_run(cfg, name) if name != BASE else None   # a bad run key fails before any work
    question_prompt({"context": "", "question": ""}, cfg.eval.mode)  # bad mode fails up front
    engine = make_engine(cfg.engine)   # a bad engine or device fails before any work
    with stage_run(cfg, "evaluate", f"eval/{name}.json") as stage:
        checkpoints = checkpoints_to_score(cfg, name)
        sets = question_sets(cfg.eval)
        model_dir = Path(cfg.model.dir)
        if not (model_dir / "config.json").is_file():
            raise JouleError(f"model.dir={model_dir} holds no model (config.json); "
                             "run `python -m pipeline.base_model` first")
        engine.load(model_dir, dtype=cfg.model.dtype)
        n_params = matmul_params(engine.base)
        scored, final = [], None
        with atomic_dir(Path(cfg.eval.predictions_dir) / name) as out:
            for ck in checkpoints:
                on_full = bool(cfg.eval.last_on_full) and ck["is_final"]
                with stage.meter.window(f"evaluate/{ck['name']}") as cost:
                    model = engine.prepare(ck["adapter"], cfg.eval.dtype)
                    result, predictions = score_checkpoint(engine, model, sets, cfg.eval,
                                                           cfg.seed, on_full=on_full)
                    del model
                _write_jsonl(out / f"{ck['name']}.jsonl", predictions)
                spent = cost["result"]
                tokens = result["computed_prompt_tokens"] + result["generated_tokens"]
                entry = {k: v for k, v in ck.items() if k not in ("adapter", "is_final")}
                entry.update(result, questions_asked=len(predictions),
                             eval_time_s=spent.time_s, eval_energy_j=spent.energy_j,
                             eval_energy_source=spent.energy_source,
                             questions_per_s=(len(predictions) / spent.time_s
                                              if spent.time_s else 0.0),
                             inference_flops=inference_flops(n_params, tokens))
                scored.append(entry)
                if ck["is_final"]:
                    final = entry
        stage.metrics.update(
            curriculum=spec.curriculum if spec else name, model=str(cfg.model.name),
            eval_set=str(cfg.eval.name), mode=str(cfg.eval.mode), final=final["name"],
            **{k: final[k] for k in _SCORES},
            eval_file_questions=sets.total, **engine.describe(),
            checkpoints=scored,
            inference_flops=sum(c["inference_flops"] for c in scored),
            flops_formula="2 * matmul_params * (computed prompt + generated tokens), per "
                          "checkpoint; a prefix an engine computes once per batch (the "
                          "instruction, a passage) counts once")
        if spec is not None:
            stage.metrics.update(run=spec.key, training_seed=spec.seed)
        if "full" in final:
            stage.metrics["full"] = final["full"]
        stage.summary.update(wrote=Path(cfg.eval.predictions_dir) / name,
                             checkpoints=len(scored), f1=round(final["f1"], 1), n=final["n"])
        if "full" in final:
            stage.summary.update(f1_full=round(final["full"]["f1"], 1), n_full=final["full"]["n"])
    return stage.metrics


if __name__ == "__main__":
    run(main)
