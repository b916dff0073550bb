"""Where the data stages run: `runner=local` (the stage's own loop in this process) or
`runner=ray` (Ray Data: `runners.ray_prepare`, cluster set-up in
`runners.cluster`). The stage passes its own per-item functions in, so both runners share one
implementation of cleaning and rewriting and this package never imports `pipeline`."""

from __future__ import annotations

from omegaconf import DictConfig

from joule.errors import JouleError

RUNNERS = ("local", "ray")


def runner_name(cfg: DictConfig) -> str:
    """`cfg.runner.name` checked (`local` when the config has no runner group)."""
    runner = cfg.get("runner")
    name = "local" if runner is None else runner.get("name")
    if name not in RUNNERS:
        raise JouleError(f"runner.name must be one of {', '.join(RUNNERS)}, not {name!r}")
    return name


def positive(cfg: DictConfig, key: str) -> int:
    """`cfg.runner.<key>` as an int >= 1, or a JouleError naming the key."""
    value = cfg.runner.get(key)
    if not isinstance(value, int) or value < 1:
        raise JouleError(f"runner.{key} must be an integer >= 1, not {value!r}")
    return value
