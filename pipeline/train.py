"""Stage `train`: LoRA fine-tuning of the base model on one curriculum, in its order.

`python -m pipeline.train curriculum=<name>-seed<s>` trains the same curriculum with training
seed s (a further seed of `experiment.seeds`, `joule.runs`): outputs under the run key
`<name>-seed<s>` (`<data_dir>/models/<name>-seed<s>/`, `<metrics_dir>/train/<name>-seed<s>.json`);
without `-seed<s>` the training seed is `seed`.

`python -m pipeline.train curriculum=<name>` reads `<data_dir>/curricula/<name>/train.parquet` and
the base checkpoint at `cfg.model.dir`, trains until the curriculum's tokens (its budget) are
used, and writes `<data_dir>/models/<name>/ckpt-XXX/` (peft adapters at `train.checkpoint_fractions`
of the budget) with `checkpoints.json`, plus `<metrics_dir>/train/<name>.json`.

Kill it and run it again: Trainer's state lives in the sibling `<data_dir>/models/.<name>.work/`
(the outputs dir is a DVC out, which DVC deletes before a run), and the run resumes from the last
checkpoint there. The outputs dir is moved into place only when training has finished. Multi-GPU:
`accelerate launch -m pipeline.train curriculum=<name>` (see `train.loop`).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig

from joule.config import require, run
from joule.errors import JouleError
from joule.io import atomic_dir, read_json, write_json
from joule.runs import parse_run
from pipeline.stage import stage_run
from train.callbacks import META_FILE
from train.data import (
    checkpoint_fractions,
    checkpoint_name,
    plan_batches,
    read_curriculum,
    tokenize_records,
)
from train.loop import is_main_process, train_lora, world_size
from train.model import load_checkpoint


def main(cfg: DictConfig, callbacks: Sequence = ()) -> None:
    """Train run `cfg.curriculum` (`joule.runs`); `callbacks`: extra Trainer callbacks (tests)."""
    spec = parse_run(cfg, require(cfg, "curriculum"))
    cfg.seed = spec.seed   # the training seed (LoRA init, data order); the plain key's is `seed`
    name = spec.key
    tcfg = cfg.train
    data_file = Path(cfg.data_dir) / "curricula" / spec.curriculum / "train.parquet"
    models_dir = Path(cfg.data_dir) / "models" / name
    work_dir = models_dir.parent / f".{name}.work"
    fractions = checkpoint_fractions(tcfg.checkpoint_fractions)
    rows = read_curriculum(data_file)
    budget = int(require(cfg, "experiment.token_budget"))
    with stage_run(cfg, "train", f"train/{name}.json") as stage:
        model, tokenizer = load_checkpoint(cfg.model.dir, str(tcfg.attn_implementation))
        examples = tokenize_records(rows, tokenizer, str(data_file))
        lengths = [len(ids) for ids, _ in examples]
        if sum(lengths) > budget:
            raise JouleError(f"{data_file} holds {sum(lengths)} tokens, more than "
                             f"experiment.token_budget={budget}: curate it with this budget and "
                             f"the tokenizer of {cfg.model.dir}")
        plan = plan_batches(lengths, int(tcfg.max_seq_len), int(tcfg.rows_per_batch),
                            int(tcfg.pack_window), fractions, world_size())
        figures = train_lora(cfg, model, tokenizer, examples, plan, work_dir,
                             lambda: stage.meter.read("train"), callbacks)
        if not is_main_process():
            return   # process 0 alone writes outputs under `accelerate launch`
        checkpoints = _publish(work_dir / "adapters", models_dir, fractions)
        last = checkpoints[-1]
        stage.metrics.update(
            curriculum=spec.curriculum, run=name, training_seed=spec.seed, records=len(rows),
            tokens=last["tokens"], budget_tokens=budget,
            curriculum_tokens=plan.total_tokens, max_seq_len=plan.max_seq_len,
            rows_per_batch=int(tcfg.rows_per_batch), world_size=world_size(),
            padding_fraction=plan.padding_fraction, computed_tokens=plan.padded_tokens,
            split_records=sum(n > plan.max_seq_len for n in lengths),
            flops=last["flops"], total_time_s=last["time_s"], total_energy_j=last["energy_j"],
            tokens_per_s=plan.total_tokens / last["time_s"] if last["time_s"] else 0.0,
            checkpoints=checkpoints, final=last["name"], **figures)
        stage.summary.update(wrote=models_dir, checkpoints=len(checkpoints), tokens=last["tokens"],
                            steps=figures["steps"], resumed_from_step=figures["resumed_from_step"],
                            final_loss=figures["loss_curve"][-1]["loss"]
                            if figures["loss_curve"] else "n/a")
    shutil.rmtree(work_dir, ignore_errors=True)   # done: nothing left to resume


def _publish(export_dir: Path, models_dir: Path, fractions: list[float]) -> list[dict]:
    """Move the exported adapters into `models_dir` with `checkpoints.json`, all or nothing."""
    checkpoints = []
    for fraction in fractions:
        meta_file = export_dir / checkpoint_name(fraction) / META_FILE
        if not meta_file.is_file():
            raise JouleError(f"checkpoint {meta_file.parent} was not written; training did not "
                             "reach its token mark")
        meta = read_json(meta_file)
        checkpoints.append({k: meta[k] for k in ("name", "fraction", "tokens", "time_s",
                                                 "energy_j", "energy_source", "flops")}
                           | {"path": meta["name"], "step": meta["step"]})
    with atomic_dir(models_dir) as tmp:
        for entry in checkpoints:
            shutil.copytree(export_dir / entry["name"], tmp / entry["name"])
        write_json(tmp / "checkpoints.json",
                   {"checkpoints": checkpoints, "final": checkpoints[-1]["name"]})
    return checkpoints


if __name__ == "__main__":
    run(main)
