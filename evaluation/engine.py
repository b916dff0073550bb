"""The generation engine interface: a base model loaded once, then per checkpoint token-id
prompts in, Answers out. Engines are chosen by config: `conf/engine/<key>.yaml` names the class
with `_target_` (the file name is the key: `engine=hf`, `engine=cpu_shared_prefix`).

    engine = make_engine(cfg.engine)
    tokenizer = engine.load(model_dir, dtype="float32")
    model = engine.prepare(adapter_dir_or_None, dtype="bfloat16")
    answers = engine.generate(model, prompts, max_new_tokens=16, groups=passages_or_None)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from omegaconf import DictConfig

from evaluation.common import Answer, for_generation, load_model, resolve_device, stop_token_ids
from joule.errors import JouleError


class Engine(ABC):
    """Greedy short answers from a base model with, per checkpoint, a LoRA adapter merged in.

    Every engine gives the same answers as `hf` (the reference) up to float rounding: greedy,
    one line (generation stops at end of turn or at a token holding a newline), at most
    `max_new_tokens` tokens.
    """

    name: str = ""
    attention: str = "sdpa"   # attn_implementation the base model is loaded with

    def __init__(self, device: str = "auto", batch_size: int = 24):
        self.device = resolve_device(device)
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise JouleError(f"engine.batch_size={batch_size} must be at least 1")
        self.base = self.tokenizer = self.stops = None

    def load(self, model_dir: str | Path, dtype: str = "float32"):
        """Load the base model (weights in `dtype`) and its tokenizer; returns the tokenizer."""
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.base = load_model(model_dir, dtype=dtype, attn=self.attention, device=self.device)
        self.stops = stop_token_ids(self.tokenizer)
        return self.tokenizer

    def prepare(self, adapter: str | Path | None = None, dtype: str | None = None):
        """The model that answers for one checkpoint: the base with `adapter` (a peft dir, or
        None for the base alone) merged in, cast to `dtype`."""
        self._require_loaded()
        return for_generation(self.base, adapter, dtype)

    @abstractmethod
    def generate(self, model, prompts: list[list[int]], max_new_tokens: int,
                 groups: list | None = None) -> list[Answer]:
        """Greedy answers to token-id `prompts`, in the order given. `groups` (one hashable key
        per prompt, e.g. the passage) marks prompts that share a token prefix; an engine may
        use it to compute that prefix once, and must answer as without it."""

    def describe(self) -> dict:
        """What the metrics record about how the answers were made."""
        return {"engine": self.name, "device": str(self.device)}

    def _require_loaded(self) -> None:
        if self.base is None:
            raise RuntimeError(f"engine {self.name!r}: call load() before prepare()/generate()")


def make_engine(cfg: DictConfig) -> Engine:
    """The engine `cfg` (an `engine` config group entry with `_target_`) names, built with its
    keys; a JouleError names the key where it is not an Engine or cannot be built."""
    import hydra

    target = cfg.get("_target_") if cfg is not None else None
    if not target:
        raise JouleError("engine: no `_target_` (choose one of conf/engine/, e.g. engine=hf)")
    try:
        engine = hydra.utils.instantiate(cfg, _convert_="all")
    except hydra.errors.InstantiationException as exc:
        cause = exc.__cause__
        if isinstance(cause, JouleError):
            raise cause from None
        raise JouleError(f"engine._target_={target}: {exc}") from exc
    if not isinstance(engine, Engine):
        raise JouleError(f"engine._target_={target} is not an evaluation.engine.Engine")
    return engine

