"""Loading the Hydra config for a stage, from `conf/` or from DVC's composed `params.yaml`.

Two ways in, one config out:
- `python -m pipeline.<stage> key=value group=option`: Hydra composes `conf/config.yaml` with the
  overrides (full override grammar, `-m` multirun, `--cfg job`).
- `python -m pipeline.<stage> --params params.yaml key=value`: the already composed config that
  DVC tracks (written by `python -m joule.config` or by `dvc exp run`), plus dotted overrides.
  dvc.yaml uses this form so DVC's view of the config and the stage's are the same file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import hydra
import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from joule.errors import JouleError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = PROJECT_ROOT / "conf"


def project_path(path: str | Path, root: Path = PROJECT_ROOT) -> Path:
    """`path` if absolute, else relative to the project root `root`.

    `dvc exp run --temp/--queue` runs stages in a copy of the repository under
    `<repo>/.dvc/tmp/exps/` (`standalone/tmpXXX/` for --temp), with nothing of what lies beside
    `<repo>` (the XQuAD file at `../shared/`): a relative path missing from the copy is taken
    relative to `<repo>` instead.
    """
    path = Path(path)
    if path.is_absolute():
        return path
    here = root / path
    if here.exists():
        return here
    parts = root.parts
    for i in range(len(parts) - 3, 0, -1):
        if parts[i:i + 3] == (".dvc", "tmp", "exps") and (Path(*parts[:i]) / path).exists():
            return Path(*parts[:i]) / path
    return here


def compose(overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """Compose `conf/config.yaml` with Hydra overrides, outside of `@hydra.main` (tests, tools)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=list(overrides))


def load_params(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """Load a composed config file and apply `key=value` overrides; unknown keys are errors."""
    path = Path(path)
    if not path.is_file():
        raise JouleError(f"config file {path} does not exist (run `python -m joule.config`)")
    cfg = OmegaConf.load(path)
    OmegaConf.set_struct(cfg, True)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise JouleError(f"override {item!r} is not of the form key=value")
        try:
            parsed = yaml.safe_load(value) if value else None
            OmegaConf.update(cfg, key.lstrip("+"), parsed, merge=True,
                             force_add=key.startswith("+"))
        except (OmegaConfBaseException, yaml.YAMLError) as exc:
            raise JouleError(f"unknown config key {key!r} in override {item!r} ({path})") from exc
    return cfg


def to_yaml(cfg: DictConfig) -> str:
    """The config resolved, as YAML: the same text DVC's Hydra composition writes to params.yaml."""
    cfg = cfg.copy()
    OmegaConf.resolve(cfg)
    return OmegaConf.to_yaml(cfg)


def require(cfg: DictConfig, key: str):
    """`cfg.<key>` (dotted), or a JouleError naming the key when it is absent or `???`."""
    parent_key, _, leaf = key.rpartition(".")
    parent = OmegaConf.select(cfg, parent_key) if parent_key else cfg
    if not isinstance(parent, DictConfig) or leaf not in parent:
        raise JouleError(f"config key {key!r} is missing")
    if OmegaConf.is_missing(parent, leaf):
        raise JouleError(f"config key {key!r} must be set (e.g. `{key}=...` on the command line)")
    return parent[leaf]


def curriculum_config(cfg: DictConfig, name: str | None = None) -> DictConfig:
    """The config of curriculum `name` (default `cfg.curriculum`).

    Curricula of the experiment live under `cfg.curricula.<name>`; any other file in
    `conf/curricula/` works too (`curriculum=mine` composes `conf/curricula/mine.yaml`).
    The group is `curricula`, not `curriculum`: a group named like the key would make Hydra read
    `curriculum=x` as a group override (no `-m` sweeps over it, a wrong `--cfg job`).
    """
    name = name or cfg.curriculum
    if name in cfg.get("curricula", {}):
        return cfg.curricula[name]
    file = CONF_DIR / "curricula" / f"{name}.yaml"
    if not file.is_file():
        known = sorted(p.stem for p in (CONF_DIR / "curricula").glob("*.yaml"))
        raise JouleError(f"unknown curriculum {name!r}: no conf/curricula/{name}.yaml "
                         f"(known: {', '.join(known)})")
    return compose([f"+curricula@curricula.{name}={name}"]).curricula[name]


def run(stage: Callable[[DictConfig], object]) -> None:
    """Entry point of `python -m pipeline.<stage>`: load the config, run, fail in one line.

    A `JouleError` (bad input, bad key) exits with status 1 and one `error:` line on stderr;
    anything else is a bug and keeps its traceback.
    """
    argv = sys.argv[1:]

    def guarded(cfg: DictConfig) -> None:
        try:
            stage(cfg)
        except JouleError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(1)

    if argv[:1] == ["--params"]:
        if len(argv) < 2:
            print("error: --params needs a file", file=sys.stderr)
            sys.exit(2)
        try:
            cfg = load_params(argv[1], argv[2:])
        except JouleError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(1)
        guarded(cfg)
        return
    hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")(guarded)()


def main() -> None:
    """`python -m joule.config [overrides] [--out params.yaml]`: write the composed config."""
    argv = sys.argv[1:]
    out = None
    if "--out" in argv:
        i = argv.index("--out")
        out = Path(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    text = to_yaml(compose(argv))
    if out is None:
        sys.stdout.write(text)
    elif not out.exists() or out.read_text() != text:
        out.write_text(text)


if __name__ == "__main__":
    main()
