"""Stage `report`: energy-to-accuracy per curriculum, paired comparisons and the verdict.

    python -m pipeline.report [hydra overrides]      # DVC: --params params.yaml
    python -m pipeline.report --readme [--params params.yaml]   # README result block

Reads `<metrics_dir>/{prepare,rewrite,base_model}.json`, `eval/base.json`, `{curate,train,eval}/
<key>.json` of every curriculum and seed (`experiment.seeds`; `joule.runs`) and the
per-question predictions under `eval.predictions_dir`; writes `<reports_dir>/report.md`, a
self-contained `<reports_dir>/report.html` (plots inline), `<metrics_dir>/report.json` (DVC
metrics) and `<metrics_dir>/plots/f1_vs_energy.json` (DVC plots). `--readme` rewrites the block
of README.md between `<!-- results:start -->` and `<!-- results:end -->` from report.json (run by
`make repro` after `dvc repro`; README is not a DVC output). The rules are in `reporting/`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import DictConfig

from joule.config import PROJECT_ROOT, require, run
from joule.errors import JouleError
from joule.io import read_json, write_json, write_text
from joule.runs import experiment_seeds, run_key
from pipeline.stage import stage_run
from reporting.carbon import grid_intensity
from reporting.document import build_document, plot_rows, readme_block, summary
from reporting.evidence import gather
from reporting.figures import compute, load_metrics
from reporting.render import markdown, to_html

README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"


def main(cfg: DictConfig) -> dict:
    """Write the report files; returns the metrics written to `<metrics_dir>/report.json`."""
    curricula = list(require(cfg, "curricula").keys())
    baselines = list(require(cfg, "experiment.baselines"))
    exp = cfg.experiment
    seeds = experiment_seeds(cfg)
    extra = [run_key(n, s, seeds) for n in curricula for s in seeds[1:]]
    missing = [f"{sub}/{key}.json" for key in extra for sub in ("train", "eval")
               if not (Path(cfg.metrics_dir) / sub / f"{key}.json").is_file()]
    if missing:
        raise JouleError(f"experiment.seeds={seeds} but {cfg.metrics_dir}/{missing[0]} (and "
                         f"{len(missing) - 1} more) does not exist: each further seed s needs "
                         "the train and evaluate runs keyed <curriculum>-seed<s> (dvc.yaml's "
                         "train@<curriculum>-seed<s>, evaluate@<curriculum>-seed<s>; regenerate "
                         "params.yaml with `make params` after changing the seeds)")
    with stage_run(cfg, "report", "report.json") as stage:
        grid = grid_intensity(exp.get("carbon") or {})
        metrics = load_metrics(cfg.metrics_dir, curricula, extra)
        llm = frozenset(n for n in curricula
                        if "records_llm" in (cfg.curricula[n].get("records") or []))
        figures = compute(metrics, curricula, baselines, exp.get("target_f1"), llm)
        evidence = gather(cfg.metrics_dir, cfg.eval.predictions_dir, curricula, baselines,
                          exp.get("ablations"), seeds, exp.get("target_f1"),
                          int(exp.get("bootstrap_samples") or 2000), int(cfg.seed))
        blocks = build_document(cfg, metrics, figures, curricula, evidence, grid)
        md, page = markdown(blocks), to_html(blocks, f"joule report: {exp.name}")
        reports_dir = Path(cfg.reports_dir)
        write_json(Path(cfg.metrics_dir) / "plots" / "f1_vs_energy.json", plot_rows(figures))
        write_text(reports_dir / "report.md", md)
        write_text(reports_dir / "report.html", page)
        stage.metrics.update(summary(figures, metrics, evidence, grid))
    print(f"report: {reports_dir / 'report.md'}; {evidence.verdict}")
    return stage.metrics


def write_readme(cfg: DictConfig, readme: Path = PROJECT_ROOT / "README.md") -> None:
    """Replace README's result block with one generated from `<metrics_dir>/report.json`."""
    report = read_json(Path(cfg.metrics_dir) / "report.json")
    if "verdict" not in report:
        raise JouleError(f"{Path(cfg.metrics_dir) / 'report.json'} has no verdict: run the "
                         "report stage first (dvc repro)")
    text = readme.read_text(encoding="utf-8")
    if text.count(README_START) != 1 or text.count(README_END) != 1:
        raise JouleError(f"{readme} must hold {README_START} and {README_END} once each")
    head, rest = text.split(README_START)
    _, tail = rest.split(README_END)
    write_text(readme, f"{head}{README_START}\n{readme_block(report)}{README_END}{tail}")
    print(f"report: README result block written from {Path(cfg.metrics_dir) / 'report.json'}")


if __name__ == "__main__":
    if "--readme" in sys.argv:
        sys.argv.remove("--readme")
        run(write_readme)
    else:
        run(main)
