"""LoRA fine-tuning with transformers' Trainer over a precomputed plan of packed batches.

What the libraries do: peft wraps the base model with LoRA adapters; Trainer runs the loop
(AdamW, LR schedule, clipping, logging), saves full checkpoints (adapter, optimizer, scheduler,
RNG states, step) and resumes from one, skipping the batches already seen; accelerate places the
model and data on the device(s). What is ours: the batch plan (`train.data`), sequential sampling
in that order (`train_sampling_strategy="sequential"`), checkpoints at token marks
(`train.callbacks`), and a loss that runs the output head on labelled positions only
(`train.head_loss`).

Devices. The same code runs on CPU (here) and GPUs: Trainer moves the model to the accelerator it
finds; `train.mixed_precision=bf16` (the default) trains in bf16 autocast on either, with fp32
master weights; on a CPU without native bf16 matmuls (no avx512_bf16/AMX) set it to `no`.
Multi-process: `accelerate launch -m pipeline.train curriculum=<name>` (one process per GPU).
The plan is laid out for `WORLD_SIZE` processes: each optimizer step takes one batch per process
(accelerate hands process k batch k of each group of W), so tokens per step, checkpoint steps and
the token budget stay exact; only process 0 exports adapters and writes files. That path cannot be
run on our CPU-only machines.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from joule.errors import JouleError
from joule.flops import head_params, lora_training_flops, matmul_params
from joule.io import read_json
from train.callbacks import META_FILE, TokenMarkCheckpoints
from train.data import PackedBatches, Plan, labelled_tokens_after, unwrap


def world_size() -> int:
    """Processes taking part (1 unless started by `accelerate launch` / torchrun).

    `accelerate launch --num_processes N` on a machine where accelerate finds no GPU (and no
    `--multi_cpu`) starts one plain process with `MASTER_ADDR` set but no `WORLD_SIZE`: that
    would train alone while N were asked for, so it is a `JouleError` instead.
    """
    if "WORLD_SIZE" not in os.environ and os.environ.get("MASTER_ADDR"):
        raise JouleError("several processes were asked for (MASTER_ADDR is set) but this one "
                         "runs alone (no WORLD_SIZE): accelerate found no GPUs. On a CPU-only "
                         "machine run `python -m pipeline.train` (one process uses every core) "
                         "or `accelerate launch --multi_cpu ...`")
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Process 0 (the only one under a plain `python -m`): the one that writes outputs."""
    return int(os.environ.get("RANK", "0")) == 0


def lora_model(model, tcfg: DictConfig, seed: int):
    """`model` wrapped with LoRA adapters (peft); the adapters' init depends only on `seed`."""
    from peft import LoraConfig, get_peft_model
    from transformers import set_seed

    lora = tcfg.lora
    target = lora.target_modules
    target = target if isinstance(target, str) else list(target)
    set_seed(seed)
    config = LoraConfig(r=int(lora.r), lora_alpha=float(lora.alpha),
                        lora_dropout=float(lora.dropout), target_modules=target, bias="none",
                        task_type="CAUSAL_LM")
    # No KV cache in training; with one, `sdpa` would also skip detecting packed rows from
    # position_ids (records sharing a row would attend to each other) and `packed_sdpa` would
    # fall back to that `sdpa`.
    model.config.use_cache = False
    with warnings.catch_warnings():
        # peft reads transformers' deprecated `is_gradient_checkpointing` (peft_model.py): not a
        # call of ours to fix, and the same FutureWarning on every run says nothing to a user
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated",
                                category=FutureWarning)
        return get_peft_model(model, config)


def _has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def training_arguments(tcfg: DictConfig, work_dir: Path, max_steps: int, seed: int):
    from transformers import TrainingArguments

    precision = str(tcfg.mixed_precision)
    return TrainingArguments(
        output_dir=str(work_dir),
        per_device_train_batch_size=1,          # a dataset item is a whole packed batch
        gradient_accumulation_steps=1,
        max_steps=max_steps,                    # the plan's steps: exactly the token budget
        learning_rate=float(tcfg.lr),
        lr_scheduler_type=str(tcfg.lr_scheduler),
        warmup_steps=float(tcfg.warmup_ratio),  # a float < 1 is a ratio of max_steps
        weight_decay=float(tcfg.weight_decay),
        max_grad_norm=float(tcfg.max_grad_norm),
        train_sampling_strategy="sequential",   # the curriculum decides the order, never shuffle
        logging_steps=int(tcfg.logging_steps),
        save_strategy="no",                     # saves come from TokenMarkCheckpoints
        save_total_limit=2,                     # the last two: one has an export if a kill hit
        seed=seed, data_seed=seed,
        activation_checkpointing=bool(tcfg.gradient_checkpointing),
        activation_checkpointing_kwargs={"use_reentrant": False},
        bf16=precision == "bf16", fp16=precision == "fp16",
        # Trainer refuses bf16 without a GPU unless told to run on the CPU, where bf16 autocast
        # uses the CPU's bf16 matmuls (avx512_bf16/AMX), faster than fp32 (docs/benchmarks.md)
        use_cpu=precision == "bf16" and not _has_gpu(),
        dataloader_num_workers=0, dataloader_pin_memory=False,
        report_to="none", disable_tqdm=True, remove_unused_columns=False,
    )


def code_version() -> str:
    """The training code and the libraries under it: the sources of the `train` package (training
    only: it imports nothing from `evaluation`), of `pipeline/train.py` and of the `joule` modules
    that shape what is trained (`flops.py`, `formats.py`: the prompts records are tokenized
    with), and the versions of torch, transformers, peft and accelerate. A run killed under one
    version must not resume under another: the adapter would be half one and half the other."""
    from importlib.metadata import version

    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for file in sorted(here.glob("*.py")) + [here.parent / "pipeline" / "train.py",
                                             here.parent / "joule" / "flops.py",
                                             here.parent / "joule" / "formats.py"]:
        h.update(file.name.encode())
        h.update(file.read_bytes())
    for package in ("torch", "transformers", "peft", "accelerate"):
        h.update(f"{package}=={version(package)}".encode())
    return h.hexdigest()


def content_digest(directory: Path) -> str:
    """sha256 over every file under `directory` (relative path and bytes, in path order): the
    base model's weights, config and tokenizer files by content, so new weights of the same
    shapes are a different model. Not cached: one sequential read of the checkpoint per run is
    small beside the training it guards."""
    h = hashlib.sha256()
    for file in sorted(p for p in Path(directory).rglob("*") if p.is_file()):
        h.update(str(file.relative_to(directory)).encode() + b"\0")
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


# Keys that change speed, not the trained adapter: a run may resume under other values.
SPEED_KEYS = ("threads",)


def fingerprint(cfg: DictConfig, examples, plan: Plan) -> str:
    """What a resumable run depends on, by content: train config (speed knobs aside), seed, the
    curriculum's token ids and labels, the batch plan, the base model's files
    (`content_digest`) and the training code and library versions (`code_version`)."""
    h = hashlib.sha256()
    h.update(code_version().encode())
    train_cfg = OmegaConf.to_container(cfg.train, resolve=True)
    for key in SPEED_KEYS:
        train_cfg.pop(key, None)
    h.update(json.dumps(train_cfg, sort_keys=True).encode())
    h.update(str(cfg.seed).encode())
    for ids, labels in examples:
        h.update(json.dumps([ids, labels]).encode())
    h.update(json.dumps([[[[c.example, c.start, c.end] for c in row] for row in b]
                         for b in plan.batches]).encode())
    h.update(content_digest(Path(cfg.model.dir)).encode())
    return h.hexdigest()


def resumable_checkpoint(trainer_dir: Path, export_dir: Path) -> tuple[Path | None, dict]:
    """The latest Trainer checkpoint whose adapter export is complete, and that export's meta."""
    exported: dict[int, dict] = {}
    for meta_file in export_dir.glob(f"ckpt-*/{META_FILE}"):
        meta = read_json(meta_file)
        exported[meta["step"]] = meta
    steps = sorted((int(p.name.split("-")[1]) for p in trainer_dir.glob("checkpoint-*")
                    if p.name.split("-")[1].isdigit()), reverse=True)
    for step in steps:
        if step in exported:
            return trainer_dir / f"checkpoint-{step}", exported[step]
    return None, {}


def train_lora(cfg: DictConfig, model, tokenizer, examples, plan: Plan, work_dir: Path,
               meter_read: Callable[[], object], callbacks: Sequence = ()) -> dict:
    """Train LoRA adapters on `plan`; returns figures for the metrics file.

    Trainer state lives in `work_dir/trainer`, exported adapters in `work_dir/adapters/ckpt-XXX`.
    If `work_dir` holds a run with the same fingerprint, training resumes from its last complete
    checkpoint; a different fingerprint starts afresh. `meter_read()` returns the stage's energy
    window so far (time_s, energy_j, energy_source).
    """
    import torch

    from train.head_loss import LabelledHeadTrainer

    if cfg.train.get("threads"):
        torch.set_num_threads(int(cfg.train.threads))
    trainer_dir, export_dir = work_dir / "trainer", work_dir / "adapters"
    stamp = work_dir / "fingerprint"
    print_ = fingerprint(cfg, examples, plan)
    if stamp.is_file() and stamp.read_text() != print_:
        if is_main_process():
            print(f"train: {work_dir} holds a run of other inputs (data, base model, config or "
                  "code changed): starting afresh")
        shutil.rmtree(work_dir)   # the data, model or config changed: old state is not ours
    work_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(print_)
    resume_from, resumed = resumable_checkpoint(trainer_dir, export_dir)
    if resume_from is not None and is_main_process():
        print(f"train: resuming from step {resumed['step']} of {len(plan.steps)} "
              f"({resume_from})")

    n_params = matmul_params(model)             # frozen base: counted before adapters are added
    n_head = head_params(model)
    labelled_after = labelled_tokens_after(plan, examples)
    peft_model = lora_model(model, cfg.train, int(cfg.seed))
    n_trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    offset_time = resumed.get("time_s", 0.0)
    offset_energy = resumed.get("energy_j", 0.0)

    def cost(step: int) -> dict:
        now = meter_read()
        tokens, labelled = plan.tokens_after[step - 1], labelled_after[step - 1]
        return {"tokens": tokens, "labelled_tokens": labelled, "time_s": offset_time + now.time_s,
                "energy_j": offset_energy + now.energy_j, "energy_source": now.energy_source,
                "flops": lora_training_flops(n_params, n_trainable, tokens, n_head, labelled)}

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None \
        else tokenizer.eos_token_id
    trainer = LabelledHeadTrainer(
        model=peft_model,
        args=training_arguments(cfg.train, trainer_dir, len(plan.steps), int(cfg.seed)),
        train_dataset=PackedBatches(plan, examples, pad_id),
        data_collator=unwrap,
        callbacks=[TokenMarkCheckpoints(plan.checkpoints, export_dir, cost), *callbacks],
    )
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    losses = [{"step": e["step"], "tokens": plan.tokens_after[e["step"] - 1],
               "loss": e["loss"]} for e in trainer.state.log_history if "loss" in e]
    return {
        "steps": len(plan.steps), "resumed_from_step": resumed.get("step", 0),
        "parameters_matmul": n_params, "parameters_trainable": n_trainable,
        "parameters_head": n_head, "labelled_tokens": labelled_after[-1],
        "loss_curve": losses,
    }
