"""Trainer callbacks: checkpoints at token marks, each exported as a peft adapter with its cost.

Why a callback: Trainer saves every N steps or per epoch; our checkpoints fall at fractions of a
token budget, i.e. at the (uneven) steps `train.data.plan_batches` computed. The callback asks
Trainer for a full checkpoint (adapter, optimizer, scheduler, RNG, data position) at those steps,
so resuming uses Trainer's own machinery, then copies the adapter out with what it cost so far.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from transformers import TrainerCallback

from joule.io import atomic_dir, write_json
from train.data import checkpoint_name

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
META_FILE = "checkpoint.json"   # next to each exported adapter: tokens, time, energy, flops


class TokenMarkCheckpoints(TrainerCallback):
    """Save at `steps_by_fraction`'s steps; export `ckpt-XXX` adapters to `export_dir`.

    `cost(step)` returns the cumulative figures at the end of `step` (tokens, time_s, energy_j,
    energy_source, flops); they are written to `<export_dir>/ckpt-XXX/checkpoint.json`.
    """

    def __init__(self, steps_by_fraction: dict[float, int], export_dir: str | Path,
                 cost: Callable[[int], dict]):
        self.export_dir = Path(export_dir)
        self.cost = cost
        self.by_step: dict[int, list[float]] = {}
        for fraction, step in steps_by_fraction.items():
            self.by_step.setdefault(step, []).append(fraction)

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step in self.by_step:
            control.should_save = True
        return control

    def on_save(self, args, state, control, **kwargs):
        step = state.global_step
        if step not in self.by_step or not state.is_world_process_zero:
            return control
        source = Path(args.output_dir) / f"checkpoint-{step}"
        figures = self.cost(step)
        for fraction in self.by_step[step]:
            name = checkpoint_name(fraction)
            # an export is either complete or absent (resume relies on it)
            with atomic_dir(self.export_dir / name) as tmp:
                for file in ADAPTER_FILES:
                    shutil.copy2(source / file, tmp / file)
                write_json(tmp / META_FILE,
                           {"name": name, "fraction": fraction, "step": step, **figures})
        return control

