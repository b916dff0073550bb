"""Training runs of an experiment: every curriculum x every training seed, and their keys.

A run is one training (and its evaluation) of one curriculum with one training seed. The first
entry of `experiment.seeds` must be the config's `seed`: its runs are keyed by the curriculum's
name (`curated`), so a one-seed experiment keeps the plain stage names, files and commands. Seed
s's runs are keyed `<curriculum>-seed<s>` (`curated-seed1`): `<data_dir>/models/curated-seed1/`,
`<metrics_dir>/train/curated-seed1.json`, `<metrics_dir>/eval/curated-seed1.json`,
`<eval.predictions_dir>/curated-seed1/`. Curation does not depend on the training seed: every run of
a curriculum trains on `<data_dir>/curricula/<curriculum>/`; evaluation asks every run the same
questions (its sample is drawn with `seed`), so runs pair question by question.

`runs` in the composed config (conf/config.yaml: `${joule.runs:}`) is the table of the
experiment's runs that dvc.yaml's `train` and `evaluate` iterate over. The resolver is
registered by `register()` (imported with `joule.config`, and by `hydra_plugins/joule_runs.py`
for DVC's own composition in `dvc exp run`).
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf

from joule.errors import JouleError

SEP = "-seed"   # not `@`: DVC reads a stage name's foreach key after its last `@` (train@curated)
RESOLVER = "joule.runs"


@dataclass(frozen=True)
class Run:
    """One run: its file key, the curriculum it trains on, its training seed."""

    key: str
    curriculum: str
    seed: int


def run_key(curriculum: str, seed: int, seeds: list[int]) -> str:
    """The key of `curriculum` trained with `seed`: the plain name for the first seed."""
    return curriculum if seed == seeds[0] else f"{curriculum}{SEP}{seed}"


def experiment_seeds(cfg: DictConfig) -> list[int]:
    """`experiment.seeds` (default `[seed]`), checked: distinct integers >= 0, the first `seed`.

    Raises JouleError naming `experiment.seeds` otherwise.
    """
    seed = int(cfg.seed)
    experiment = cfg.get("experiment") or {}
    raw = experiment.get("seeds") if isinstance(experiment, DictConfig) else None
    if raw is None:
        return [seed]
    try:
        seeds = [int(s) for s in raw]
    except (TypeError, ValueError):
        raise JouleError(f"config key 'experiment.seeds' must list integers; got {raw}") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise JouleError(f"config key 'experiment.seeds' must list distinct seeds >= 0; "
                         f"got {seeds}")
    if seeds[0] != seed:
        raise JouleError(f"config key 'experiment.seeds' must start with `seed` ({seed}): the "
                         f"first seed's runs are keyed by the curriculum's name and train with "
                         f"`seed`; got {seeds} (set both, e.g. seed={seeds[0]})")
    return seeds


def experiment_runs(cfg: DictConfig) -> list[Run]:
    """Every run of the experiment: the first seed's for every curriculum of `curricula` (in
    its order), then each further seed's."""
    seeds = experiment_seeds(cfg)
    curricula = [str(name) for name in (cfg.get("curricula") or {})]
    return [Run(run_key(name, s, seeds), name, s) for s in seeds for name in curricula]


def parse_run(cfg: DictConfig, key: str) -> Run:
    """The run `key` names: `curated` (curriculum `curated`, training seed `seed`) or
    `curated-seed1` (curriculum `curated`, training seed 1).

    A key with a seed must name a curriculum of the experiment (`curricula`) and a further seed
    of `experiment.seeds`; JouleError naming `curriculum=<key>` otherwise. A plain key is any
    curriculum (also one outside the experiment: `conf/curricula/<name>.yaml`).
    """
    key = str(key)
    if SEP not in key:
        return Run(key, key, int(cfg.seed))
    name, _, seed_text = key.rpartition(SEP)
    try:
        seed = int(seed_text)
    except ValueError:
        raise JouleError(f"curriculum={key!r}: a run key is <curriculum>{SEP}<seed>, and "
                         f"{seed_text!r} is not an integer seed") from None
    curricula = list(cfg.get("curricula") or {})
    if name not in curricula:
        raise JouleError(f"curriculum={key!r}: {name!r} is not a curriculum of the experiment "
                         f"(curricula: {', '.join(curricula) or 'none'})")
    seeds = experiment_seeds(cfg)
    if seed == seeds[0]:
        raise JouleError(f"curriculum={key!r}: seed {seed} is the first of experiment.seeds "
                         f"{seeds}, whose runs are keyed {name!r}")
    if seed not in seeds:
        raise JouleError(f"curriculum={key!r}: seed {seed} is not in experiment.seeds {seeds}")
    return Run(key, name, seed)


def _resolve(*, _root_: DictConfig) -> DictConfig:
    """`${joule.runs:}`: {run key: {curriculum, seed}} of every run (`experiment_runs`)."""
    try:
        runs = experiment_runs(_root_)
    except JouleError as exc:   # OmegaConf wraps it, naming the key being resolved
        raise ValueError(str(exc)) from None
    return OmegaConf.create({r.key: {"curriculum": r.curriculum, "seed": r.seed} for r in runs})


def register() -> None:
    """Register the `joule.runs` resolver with OmegaConf (once per process)."""
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, _resolve)
