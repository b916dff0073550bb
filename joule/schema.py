"""Declared types of the config keys, applied to every composed config (Hydra or --params).

Hydra composes plain YAML (no dataclasses), so a value keeps whatever type the override parser
gave it: `corpus.keep_lists=no` is the string 'no', `corpus.min_words=2e1` the float 20.0. Here
each declared key is coerced to its type or refused with one `JouleError` naming the key and the
type it takes. Written by hand, not as Hydra structured configs, because a group's options have
different keys (corpus=jsonl has `markup`, wiki_hf has `dataset`) and other groups and keys are
added without a schema: only what is declared is checked, everything else passes as it is.

Add a group: `SCHEMA["engine"] = {"name": Str(choices=("hf", "cpu_shared_prefix")),
"device": Str()}`; add a key to a group: one more entry in its dict. Top-level keys live under
`SCHEMA[""]`. A key declared but absent from the composed config is not an error (an option
of the group may not have it); a mandatory `???` value is left to `joule.config.require`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from joule.errors import JouleError

TRUE, FALSE = ("true", "yes", "1"), ("false", "no", "0")


class Invalid(ValueError):
    """A value that does not fit its declared type (the message is the type it takes)."""


@dataclass(frozen=True)
class Type:
    """Base of the declared types: `coerce(value)` returns the value in this type or raises."""

    nullable: bool = False

    def coerce(self, value):
        if value is None:
            if self.nullable:
                return None
            raise Invalid(f"{self.describe()} (null is not allowed)")
        return self._coerce(value)

    def describe(self) -> str:
        return self.name + (" or null" if self.nullable else "")

    name = "a value"

    def _coerce(self, value):
        return value


@dataclass(frozen=True)
class Int(Type):
    """An integer; a float or numeric string with an integral value (`2e1`) becomes one."""

    min: int | None = None
    name = "an integer"

    def describe(self) -> str:
        bound = f" >= {self.min}" if self.min is not None else ""
        return self.name + bound + (" or null" if self.nullable else "")

    def _coerce(self, value):
        number = value
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise Invalid(self.describe()) from None
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise Invalid(self.describe())
        if isinstance(number, float) and not (math.isfinite(number) and number.is_integer()):
            raise Invalid(self.describe())
        number = int(number)
        if self.min is not None and number < self.min:
            raise Invalid(self.describe())
        return number


@dataclass(frozen=True)
class Float(Type):
    """A real number: an int stays as it is (DVC's own composition of params.yaml keeps it so),
    a numeric string becomes a float."""

    min: float | None = None
    name = "a number"

    def _coerce(self, value):
        if isinstance(value, bool):
            raise Invalid(self.describe())
        if isinstance(value, int) and (self.min is None or value >= self.min):
            return value
        try:
            number = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise Invalid(self.describe()) from None
        if not math.isfinite(number) or (self.min is not None and number < self.min):
            raise Invalid(self.describe() + (f" >= {self.min}" if self.min is not None else ""))
        return number


@dataclass(frozen=True)
class Bool(Type):
    """true/false; also yes/no and 1/0, in any case. Anything else is refused."""

    name = "a boolean (true/false, yes/no, 1/0)"

    def _coerce(self, value):
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        text = str(value).strip().lower() if isinstance(value, str) else None
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise Invalid(self.describe())


@dataclass(frozen=True)
class Str(Type):
    """A string, optionally one of `choices`; a number given for it becomes its text."""

    choices: tuple[str, ...] = ()
    name = "a string"

    def describe(self) -> str:
        base = f"one of {', '.join(self.choices)}" if self.choices else self.name
        return base + (" or null" if self.nullable else "")

    def _coerce(self, value):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise Invalid(self.describe())
        text = str(value)
        if self.choices and text not in self.choices:
            raise Invalid(self.describe())
        return text


@dataclass(frozen=True)
class List(Type):
    """A list whose items are of type `item`."""

    item: Type = Type()

    def describe(self) -> str:
        return f"a list of {self.item.describe()}" + (" or null" if self.nullable else "")

    def _coerce(self, value):
        if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, ListConfig)):
            raise Invalid(self.describe())
        try:
            return [self.item.coerce(v) for v in value]
        except Invalid:
            raise Invalid(self.describe()) from None


@dataclass(frozen=True)
class OneOf(Type):
    """The first of `types` that accepts the value."""

    types: tuple[Type, ...] = ()

    def describe(self) -> str:
        return " or ".join(t.describe() for t in self.types)

    def _coerce(self, value):
        for kind in self.types:
            try:
                return kind.coerce(value)
            except Invalid:
                continue
        raise Invalid(self.describe())


# Choices are declared only where no stage checks them itself: a stage's own check (corpus and
# model sources, dtypes) names what it supports, and other options are added there.
PATH = Str(nullable=True)

SCHEMA: dict[str, dict[str, Type]] = {
    "": {"data_dir": Str(), "metrics_dir": Str(), "reports_dir": Str(), "seed": Int(min=0),
         "curriculum": Str()},
    "corpus": {
        "source": Str(), "path": PATH, "package": PATH, "package_file": PATH,
        "markup": Str(choices=("wikitext", "plain")), "dataset": Str(), "config_name": Str(),
        "split": Str(), "max_pages": Int(min=1, nullable=True), "min_words": Int(min=0),
        "keep_lists": Bool(), "pages_per_shard": Int(min=1),
    },
    "rewrite": {"spacy_model": Str(), "batch_size": Int(min=1), "n_process": Int(min=1),
                "max_chars_per_parse": Int(min=1)},
    "model": {"name": Str(nullable=True), "source": Str(),
              "package": PATH, "gguf_file": PATH, "id_or_path": PATH, "dir": Str(),
              "dtype": Str()},
    "train": {
        "lora.r": Int(min=1), "lora.alpha": Float(), "lora.dropout": Float(min=0.0),
        "lora.target_modules": OneOf(types=(Str(), List(item=Str()))),
        "lr": Float(min=0.0), "lr_scheduler": Str(), "warmup_ratio": Float(min=0.0),
        "weight_decay": Float(min=0.0), "max_grad_norm": Float(min=0.0),
        "max_seq_len": Int(min=1), "rows_per_batch": Int(min=1), "pack_window": Int(min=1),
        "checkpoint_fractions": List(item=Float()), "gradient_checkpointing": Bool(),
        "mixed_precision": Str(choices=("no", "bf16", "fp16")), "attn_implementation": Str(),
        "threads": Int(min=1, nullable=True), "logging_steps": Int(min=1),
    },
    "eval": {
        "name": Str(), "path": PATH, "hf_dataset": PATH, "hf_config": PATH, "hf_split": PATH,
        "max_questions": Int(min=1, nullable=True), "checkpoints": Str(choices=("all", "last")),
        "mode": Str(choices=("open_book", "closed_book")),
        "dtype": Str(), "last_on_full": Bool(),
        "max_new_tokens": Int(min=1), "bootstrap_samples": Int(min=0),
        "predictions_dir": Str(),
    },
    "engine": {"_target_": Str(), "device": Str(), "batch_size": Int(min=1),
               "workers": Int(min=1, nullable=True), "threads": Int(min=1, nullable=True)},
    "energy": {"use_zeus": Bool(), "cpu_tdp_w": Float(min=0.0, nullable=True),
               "cpu_package_cores": Int(min=1, nullable=True),
               "fallback_watts_per_core": Float(min=0.0), "powercap_dir": PATH,
               "rapl_max_tdp_ratio": Float(min=1.0), "flops_estimate": Bool(),
               "joules_per_flop": Float(min=0.0, nullable=True)},
    "experiment": {"name": Str(), "token_budget": Int(min=1), "baselines": List(item=Str()),
                   "target_f1": Float(min=0.0, nullable=True)},
}


def validate(cfg: DictConfig, schema: Mapping[str, Mapping[str, Type]] = SCHEMA) -> DictConfig:
    """Coerce every declared key of `cfg` to its type, in place; returns `cfg`.

    Raises `JouleError` ("config key corpus.keep_lists takes a boolean ..., not 'maybe'") on the
    first value that does not fit. Groups and keys without a declaration are left as they are.
    """
    for group, keys in schema.items():
        if group and group in cfg and not isinstance(cfg[group], DictConfig):
            raise JouleError(f"config key {group!r} must be a mapping (a config group), not "
                             f"{cfg[group]!r}: `{group}=<option>` picks an option of conf/{group}/ "
                             "only when Hydra composes conf/ (no --params; or `dvc exp run -S`)")
        if group and group not in cfg:
            continue
        for key, kind in keys.items():
            _check(cfg, f"{group}.{key}" if group else key, kind)
    return cfg


def _check(cfg: DictConfig, full_key: str, kind: Type) -> None:
    parent_key, _, leaf = full_key.rpartition(".")
    parent = OmegaConf.select(cfg, parent_key) if parent_key else cfg
    if not isinstance(parent, DictConfig) or leaf not in parent or OmegaConf.is_missing(parent,
                                                                                         leaf):
        return
    interpolated = OmegaConf.is_interpolation(parent, leaf)
    try:
        value = parent[leaf]
    except OmegaConfBaseException:
        return   # an interpolation that does not resolve: reported where it is read
    plain = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
    try:
        coerced = kind.coerce(plain)
    except Invalid as exc:
        raise JouleError(f"config key {full_key} takes {exc}, not {plain!r}") from None
    if not interpolated and (type(coerced) is not type(plain) or coerced != plain):
        parent[leaf] = coerced
