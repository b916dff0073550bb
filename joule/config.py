"""Loading the Hydra config for a stage, from `conf/` or from DVC's composed `params.yaml`.

Two ways in, one config out:
- `python -m pipeline.<stage> key=value group=option`: Hydra composes `conf/config.yaml` with the
  overrides (full override grammar, `-m` multirun, `--cfg job`).
- `python -m pipeline.<stage> --params params.yaml key=value`: the already composed config that
  DVC tracks (written by `python -m joule.config` or by `dvc exp run`), plus dotted overrides.
  dvc.yaml uses this form so DVC's view of the config and the stage's are the same file.
  Overrides are parsed with Hydra's own override grammar, so `key=value` means the same here.

Both ways then coerce every declared key to its type (`joule.schema`). The project's
`params.yaml` must be what `conf/` composes (`make params`), except inside `dvc exp run`, which
composes it itself from `conf/` and its `-S` overrides: a stale one is refused (`check_params`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import hydra
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from joule.errors import JouleError
from joule.runs import experiment_runs
from joule.runs import register as _register_runs
from joule.schema import validate

_register_runs()   # `${joule.runs:}` (conf/config.yaml) resolves wherever a config is composed

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


def derive(cfg: DictConfig, overrides: list[str] | tuple[str, ...]) -> DictConfig:
    """Keys that follow from others given on the command line, the same on both entry points:
    an `eval.path=<file>` override without `eval.name=` names the eval set after the file's stem
    (`my_squad.json` -> `my_squad`), so metrics and predictions do not carry the default set's
    name. (`dvc exp run -S eval.path=...` composes params.yaml without this: add `-S
    eval.name=...` there.)"""
    keys = {item.split("=", 1)[0].lstrip("+~") for item in overrides}
    if "eval.path" in keys and "eval.name" not in keys and "eval" in cfg:
        path = cfg.eval.get("path")
        if path:
            cfg.eval.name = Path(str(path)).name.split(".")[0] or str(path)
    return cfg


def compose(overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """Compose `conf/config.yaml` with Hydra overrides and coerce it to the schema.

    Works outside `@hydra.main` (tests, tools) and inside a stage started by it, where Hydra is
    already initialised on `conf/` (a stage composing a curriculum that is not in its config).
    """
    cfg = compose_raw(overrides)
    return validate(derive(cfg, overrides))


def load_params(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """Load a composed config file, apply `key=value` overrides, coerce it to the schema.

    Values are parsed by Hydra's override parser (`2e1` is 20.0, `no` is 'no', `null` is None,
    `[a,b]` a list), exactly as on the Hydra entry point; `+key=v` adds a key, `~key` removes
    one. Unknown keys, sweeps and bad values are `JouleError`s naming the override.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    path = Path(path)
    if not path.is_file():
        raise JouleError(f"config file {path} does not exist (run `python -m joule.config`)")
    cfg = OmegaConf.load(path)
    if overrides:
        _relink(cfg)
    OmegaConf.set_struct(cfg, True)
    parser = OverridesParser.create()
    for item in overrides:
        try:
            (override,) = parser.parse_overrides([item])
        except HydraException as exc:
            raise JouleError(f"override {item!r}: {str(exc).splitlines()[0]}") from None
        key = override.key_or_group
        if override.is_sweep_override():
            raise JouleError(f"override {item!r} is a sweep: use -m without --params")
        try:
            if override.is_delete():
                parent_key, _, leaf = key.rpartition(".")
                parent = OmegaConf.select(cfg, parent_key) if parent_key else cfg
                if parent is None or leaf not in parent:
                    raise KeyError(key)
                with open_dict(parent):
                    del parent[leaf]
                continue
            value = override.value()
            add = override.is_add() or override.is_force_add()
            OmegaConf.update(cfg, key, value, merge=True, force_add=add)
        except (OmegaConfBaseException, KeyError) as exc:
            raise JouleError(f"unknown config key {key!r} in override {item!r} ({path})") from exc
    return validate(derive(cfg, overrides))


def _interpolations(node, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted key, `${...}` expression) of every interpolated value under `node`, unresolved."""
    if isinstance(node, DictConfig):
        keys = [key for key, _ in node.items_ex(resolve=False)]
    elif isinstance(node, ListConfig):   # `experiment.seeds: [${seed}]`
        keys = list(range(len(node)))
    else:
        keys = []
    for key in keys:
        path = f"{prefix}{key}"
        if OmegaConf.is_interpolation(node, key):
            yield path, node._get_node(key)._value()
        else:
            child = node._get_node(key)
            if isinstance(child, DictConfig | ListConfig):
                yield from _interpolations(child, f"{path}.")


def _relink(cfg: DictConfig) -> None:
    """Put back the interpolations of `conf/` that a resolved params file has baked in.

    params.yaml is written resolved (as DVC writes it), so `rewrite_llm.generation.seed` holds 0,
    not `${seed}`, and `--params params.yaml seed=3` would leave it at 0 while the Hydra entry
    point gives 3. A key whose value is still what its `conf/` interpolation gives is linked
    again; one set to something else (a `dvc exp run -S` of that key) keeps its value.
    """
    for key, expr in _interpolations(compose_raw()):
        if OmegaConf.select(cfg, key, default=_MISSING) is _MISSING:
            continue
        trial = cfg.copy()
        OmegaConf.update(trial, key, expr, merge=False)
        try:
            linked = OmegaConf.select(trial, key, throw_on_resolution_failure=True)
        except OmegaConfBaseException:
            continue
        if linked == OmegaConf.select(cfg, key):
            OmegaConf.update(cfg, key, expr, merge=False)


_MISSING = object()


def compose_raw(overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """`conf/` composed with Hydra overrides, interpolations unresolved and no schema applied;
    inside a stage started by `@hydra.main` (Hydra already initialised on `conf/`) too."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        return hydra_compose(config_name="config", overrides=list(overrides))
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=list(overrides))


def check_params(path: str | Path) -> None:
    """Refuse the project's `params.yaml` when it is not what `conf/` composes.

    `dvc repro` runs stages on params.yaml as it is; after an edit of `conf/` without
    `make params` it would run on stale values. Inside `dvc exp run` (DVC sets
    `DVC_EXP_NAME`) DVC has just composed params.yaml from `conf/` and the `-S` overrides, which
    legitimately differ from `conf/`, so no check. Another file given to `--params` is the
    caller's own and is not checked.
    """
    path = Path(path)
    if os.environ.get("DVC_EXP_NAME") or path.resolve() != (PROJECT_ROOT / "params.yaml").resolve():
        return
    if path.read_text() != to_yaml(compose()):
        raise JouleError(f"{path} is not what conf/ composes (conf/ was edited, or params.yaml "
                         "by hand): run `make params` (or `python -m joule.config --out "
                         "params.yaml`) and then `dvc repro`, or use `dvc exp run [-S key=value]`, "
                         "which composes it from conf/")


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
    params_mode = argv[:1] == ["--params"]

    def guarded(cfg: DictConfig) -> None:
        try:
            if not params_mode:
                from hydra.core.hydra_config import HydraConfig

                derive(cfg, list(HydraConfig.get().overrides.task))
            stage(validate(cfg))
        except JouleError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(1)

    if argv[:1] == ["--params"]:
        if len(argv) < 2:
            print("error: --params needs a file", file=sys.stderr)
            sys.exit(2)
        try:
            check_params(argv[1])
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
    try:
        cfg = compose(argv)
        experiment_runs(cfg)   # a bad `experiment.seeds` in one line, not a resolver traceback
        text = to_yaml(cfg)
    except JouleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    if out is None:
        sys.stdout.write(text)
    elif not out.exists() or out.read_text() != text:
        out.write_text(text)


if __name__ == "__main__":
    main()
