"""Stage `report`: energy-to-accuracy per curriculum, from every stage's metrics file.

    python -m pipeline.report [hydra overrides]      # DVC: --params params.yaml

Reads `<metrics_dir>/{prepare,rewrite,base_model}.json`, `eval/base.json` and
`{curate,train,eval}/<name>.json` of every curriculum of `curricula`; writes
`<reports_dir>/report.md`, a self-contained `<reports_dir>/report.html` (plots inline),
`<metrics_dir>/report.json` (DVC metrics) and `<metrics_dir>/plots/f1_vs_energy.json` (DVC plots:
rows {curriculum, checkpoint, energy_j, tokens, f1}). The rules behind each figure are in
`reporting/figures.py` and are printed in the report.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from joule.config import PROJECT_ROOT, require, run
from joule.energy import ESTIMATE_FORMULA, cpu_model_name
from joule.io import write_json, write_text
from pipeline.stage import stage_run
from reporting.figures import Figures, Metrics, compute, kj, load_metrics
from reporting.plots import energy_by_stage, f1_curves
from reporting.render import markdown, to_html

TABLE_HEADER = ["curriculum", "tokens", "training FLOPs", "training energy (kJ)",
                "data energy (kJ)", "total energy (kJ)", "F1 [95% CI]", "EM [95% CI]",
                "kJ per F1 point over base",
                "energy to target F1 (kJ)", "energy to target vs baselines", "energy source"]


def _score(value: float, ci: list) -> str:
    return f"{value:.1f} [{ci[0]:.1f}, {ci[1]:.1f}]"


def results_table(figures: Figures) -> list[list[str]]:
    """The rows of the main table: the base model first, then every curriculum."""
    base = figures.base
    rows = [["base model", "0", "0", "0.000", "0.000", "0.000",
             _score(base.f1, figures.base_ci95["f1"]), _score(base.em, figures.base_ci95["em"]),
             "-", "reached" if base.f1 >= figures.target_f1 else "not reached", "-", "-"]]
    for r in figures.rows:
        if r.energy_to_target_j is None:
            to_target = "not reached"
        else:
            to_target = f"{kj(r.energy_to_target_j)} (at {r.target_checkpoint})"
        ratios = "; ".join(f"{v:.2f}x {b}" for b, v in r.ratio_to_baselines.items()) or "-"
        source = r.total_source if r.training_source == r.data_source else \
            f"training {r.training_source}; data {r.data_source}"
        rows.append([
            f"{r.name} (baseline)" if r.baseline else r.name, str(r.tokens),
            f"{r.training_flops:.3g}", kj(r.training_j),
            kj(r.data_j), kj(r.total_j), _score(r.f1, r.f1_ci95), _score(r.em, r.em_ci95),
            kj(r.j_per_f1_point) if r.j_per_f1_point is not None else "no gain",
            to_target, ratios, source])
    return rows


def stage_energy(metrics: Metrics) -> list[tuple[str, float, str, float, str]]:
    """(label, energy J, source, time s, how it was obtained) of every stage run read."""
    out = []
    for label, data in metrics.files.items():
        energy_j, source = metrics.get(label, "energy_j"), metrics.get(label, "energy_source")
        how = []
        for part, comp in (data.get("energy") or {}).get("components", {}).items():
            if comp.get("source", "").startswith("estimated"):
                how.append(f"{part}: {comp['cpu_time_s']:.1f} CPU s x "
                           f"{comp['watts_per_core']:g} W/core")
            else:
                how.append(f"{part}: {comp.get('source')}")
        out.append((label, float(energy_j), source, float(data.get("time_s", 0.0)),
                    "; ".join(how) or source))
    return out


def estimate_bases(metrics: Metrics) -> list[str]:
    """The distinct per-core power figures behind every estimated figure, in words."""
    bases = {}
    for data in metrics.files.values():
        for comp in (data.get("energy") or {}).get("components", {}).values():
            if comp.get("source") == "estimated:tdp":
                bases[f"{comp['watts_per_core']:g} W per core ({comp['basis']})"] = None
    return list(bases)


def git_commit(root: Path = PROJECT_ROOT) -> str:
    """HEAD's hash, marked when the working tree has uncommitted changes; says why if unknown."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no"], check=True, capture_output=True,
                               text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"unknown (git: {exc})"
    return head + (" (with uncommitted changes)" if dirty else "")


def _value(value) -> str:
    """A config value as YAML writes it: null, lists comma-separated."""
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def config_knobs(cfg: DictConfig, curricula: list[str]) -> list[str]:
    """The experiment's key settings, one `key = value` line each."""
    def steps(name: str) -> str:
        listed = cfg.curricula[name].get("steps") or []
        names = [s.get("name") or s.get("_target_") or "?" if isinstance(s, DictConfig) else str(s)
                 for s in listed]
        return ", ".join(str(n) for n in names) or "(no steps)"

    lines = [f"`seed` = {cfg.seed}"]
    for group in ("experiment", "model", "train", "eval", "energy"):
        section = OmegaConf.to_container(cfg[group], resolve=True) if group in cfg else {}
        lines += [f"`{group}.{k}` = {_value(v)}" for k, v in section.items()
                  if not isinstance(v, dict) and k != "path"]
    lines += [f"`curricula.{name}` steps: {steps(name)}" for name in curricula]
    return lines


def build_document(cfg: DictConfig, metrics: Metrics, figures: Figures,
                   curricula: list[str]) -> list[tuple]:
    stages = stage_energy(metrics)
    bases = estimate_bases(metrics)
    sources = sorted({s for _, _, s, _, _ in stages})
    all_estimated = all(s == "estimated:tdp" for s in sources)
    counters = next((d.get("energy", {}).get("detail", {}).get("counters")
                     for d in metrics.files.values() if d.get("energy")), None)
    n_questions = metrics.files["eval/base"].get("n", "?")
    blocks: list[tuple] = [
        ("h1", f"Energy to accuracy: experiment `{cfg.experiment.name}`"),
        ("p", f"{cfg.model.name} fine-tuned with LoRA on {len(curricula)} curricula of "
              f"{cfg.experiment.token_budget} tokens each, evaluated on {cfg.eval.name} "
              f"({n_questions} held-out human questions). Target F1: "
              f"{figures.target_f1:.1f} ({figures.target_basis})."),
        ("p", "Energy sources: " + ", ".join(f"`{s}`" for s in sources) + ". "
              + ("Every energy figure in this report is an estimate, not a measurement."
                 if all_estimated else "Each figure's source is given beside it.")),
        ("h2", "Results"),
        ("table", TABLE_HEADER, results_table(figures)),
        ("p", "Energies in kJ. Data energy = (prepare + rewrite energy) x share + the "
              "curriculum's own curate energy, share = min(1, records it trains on / records "
              "rewrite made). Total = data + training. Training FLOPs: counted from parameters "
              "and tokens (`joule/flops.py`), a cost independent of the hardware. Energy to "
              "target = cumulative training energy at the first evaluated checkpoint whose F1 "
              "reaches the target; vs baselines = that energy / the baseline's. kJ per F1 "
              "point = total energy / (F1 - base model F1). Evaluation energy is charged to "
              "no curriculum."),
        ("h2", "Synthesis payback"),
        ("ul", figures.payback or ["no curated (non-baseline) curriculum in this experiment"]),
        ("h2", "Plots"),
        ("img", "F1 against cumulative training energy; the star is the base model (0 J)",
         f1_curves(figures, "energy")),
        ("img", "F1 against training tokens", f1_curves(figures, "tokens")),
        ("img", "Energy by stage (hatched: estimated)",
         energy_by_stage([(label, j, s) for label, j, s, _, _ in stages])),
        ("h2", "Energy by stage: measured or estimated"),
        ("table", ["stage", "energy (kJ)", "time (s)", "source", "how"],
         [[label, kj(j), f"{t:.1f}", s, how] for label, j, s, t, how in stages]),
        ("ul", [f"`estimated:tdp`: {ESTIMATE_FORMULA}, cpu_time_s = user + system CPU seconds "
                "of the stage's process and its waited-for children; watts per core: " + b
                for b in bases]
         + ["`measured:nvml`: GPU energy counters read through NVML (Zeus); `measured:rapl`: "
            "CPU package and DRAM counters (Zeus). A `+` joins the sources of a sum."]),
        ("h2", "Run"),
        ("ul", [f"Machine: CPU {cpu_model_name() or 'unknown'!r}, {os.cpu_count()} cores; "
                f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
                "Energy counters seen by the stages: " + ("; ".join(counters) if counters
                                                          else "not recorded"),
                f"Model: {cfg.model.name}", f"Git commit: {git_commit()}"]),
        ("p", "Configuration:"),
        ("ul", config_knobs(cfg, curricula)),
    ]
    return blocks


def plot_rows(figures: Figures) -> list[dict]:
    """DVC plot rows: the base model at 0 J, then every evaluated checkpoint of every curriculum."""
    rows = [{"curriculum": "base", "checkpoint": "base", "energy_j": 0.0, "tokens": 0,
             "f1": figures.base.f1}]
    for r in figures.rows:
        rows += [{"curriculum": r.name, "checkpoint": p.name, "energy_j": p.energy_j,
                  "tokens": p.tokens, "f1": p.f1} for p in r.curve]
    return rows


def summary(figures: Figures) -> dict:
    """report.json's figures (DVC metrics): per curriculum scores, energies, energy to target."""
    out = {"target_f1": figures.target_f1, "target_basis": figures.target_basis,
           "base": {"f1": figures.base.f1, "em": figures.base.em}, "curricula": {}}
    for r in figures.rows:
        entry = {"f1": r.f1, "em": r.em, "tokens": r.tokens, "training_flops": r.training_flops,
                 "training_energy_j": r.training_j,
                 "data_energy_j": r.data_j, "total_energy_j": r.total_j,
                 "energy_source": r.total_source, "baseline": r.baseline,
                 "reached_target": r.energy_to_target_j is not None}
        if r.energy_to_target_j is not None:   # absent, not null, when the target was missed
            entry["energy_to_target_j"] = r.energy_to_target_j
            entry["energy_to_target_ratio"] = dict(r.ratio_to_baselines)
        out["curricula"][r.name] = entry
    return out


def main(cfg: DictConfig) -> dict:
    """Write the report files; returns the metrics written to `<metrics_dir>/report.json`."""
    curricula = list(require(cfg, "curricula").keys())
    baselines = list(require(cfg, "experiment.baselines"))
    target = cfg.experiment.get("target_f1")
    with stage_run(cfg, "report", "report.json") as stage:
        metrics = load_metrics(cfg.metrics_dir, curricula)
        figures = compute(metrics, curricula, baselines, target)
        blocks = build_document(cfg, metrics, figures, curricula)
        md, page = markdown(blocks), to_html(blocks, f"joule report: {cfg.experiment.name}")
        reports_dir = Path(cfg.reports_dir)
        write_json(Path(cfg.metrics_dir) / "plots" / "f1_vs_energy.json", plot_rows(figures))
        write_text(reports_dir / "report.md", md)
        write_text(reports_dir / "report.html", page)
        stage.metrics.update(summary(figures))
    return stage.metrics


if __name__ == "__main__":
    run(main)
