"""The report document and its DVC metrics, built from the stages' metrics and the evidence.

`build_document` returns the blocks `reporting.render` turns into Markdown and HTML; `summary`
the figures written to `metrics/report.json` (DVC metrics: `dvc exp show` columns, the
paired differences and their intervals included); `readme_block` the README's result section.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from joule.config import PROJECT_ROOT
from joule.energy import ESTIMATE_FORMULA, FLOPS_FORMULA, cpu_model_name
from reporting.carbon import GridIntensity
from reporting.evidence import Evidence
from reporting.figures import Figures, Metrics, kj
from reporting.paired import DETECTABLE_Z
from reporting.plots import energy_by_stage, f1_curves, seed_curves

TABLE_HEADER = ["curriculum", "tokens", "training FLOPs", "training energy (kJ)",
                "data energy (kJ)", "total energy (kJ)", "gCO2e (estimate)", "F1 [95% CI]",
                "EM [95% CI]", "kJ per F1 point over base",
                "energy to target F1 (kJ)", "energy to target vs baselines",
                "evaluation energy (kJ, not charged)", "energy source"]


def _score(value: float, ci: list) -> str:
    return f"{value:.1f} [{ci[0]:.1f}, {ci[1]:.1f}]"


def eval_energy(metrics: Metrics, key: str) -> float:
    """Evaluation energy (J) of run `key` (`base` or a curriculum): a measurement cost."""
    return float(metrics.get(f"eval/{key}", "energy_j"))


def results_table(figures: Figures, metrics: Metrics, grid: GridIntensity) -> list[list[str]]:
    """The rows of the main table: the base model first, then every curriculum."""
    base = figures.base
    rows = [["base model", "0", "0", "0.000", "0.000", "0.000", "0.0",
             _score(base.f1, figures.base_ci95["f1"]), _score(base.em, figures.base_ci95["em"]),
             "-", "reached" if base.f1 >= figures.target_f1 else "not reached", "-",
             kj(eval_energy(metrics, "base")), "-"]]
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
            kj(r.data_j), kj(r.total_j), f"{grid.grams(r.total_j):.2f}",
            _score(r.f1, r.f1_ci95), _score(r.em, r.em_ci95),
            kj(r.j_per_f1_point) if r.j_per_f1_point is not None else "no gain",
            to_target, ratios, kj(eval_energy(metrics, r.name)), source])
    return rows


def stage_energy(metrics: Metrics) -> list[tuple[str, float, str, float, str]]:
    """(label, energy J, source, time s, how it was obtained) of every stage run read."""
    out = []
    for label, data in metrics.files.items():
        energy_j, source = metrics.get(label, "energy_j"), metrics.get(label, "energy_source")
        how = []
        for part, comp in (data.get("energy") or {}).get("components", {}).items():
            if comp.get("source") == "estimated:flops":
                how.append(f"{part}: {comp['flops']:.3g} FLOPs x "
                           f"{comp['joules_per_flop']:.3g} J/FLOP")
            elif comp.get("source", "").startswith("estimated"):
                how.append(f"{part}: {comp['cpu_time_s']:.1f} CPU s x "
                           f"{comp['watts_per_core']:g} W/core")
            else:
                how.append(f"{part}: {comp.get('source')}")
            if comp.get("rejected"):
                how.append(f"{part}: RAPL figure rejected: {comp['rejected']['reason']}")
        out.append((label, float(energy_j), source, float(data.get("time_s", 0.0)),
                    "; ".join(how) or source))
    return out


def estimate_bases(metrics: Metrics) -> list[str]:
    """The distinct per-core power figures behind every estimated figure, in words."""
    bases = {}
    for data in metrics.files.values():
        for comp in (data.get("energy") or {}).get("components", {}).values():
            if comp.get("source") == "estimated:tdp":
                bases[f"`estimated:tdp`: {ESTIMATE_FORMULA}, cpu_time_s = user + system CPU "
                      "seconds of the stage's process and its waited-for children; watts per "
                      f"core: {comp['watts_per_core']:g} ({comp['basis']})"] = None
            elif comp.get("source") == "estimated:flops":
                cal = comp.get("calibration") or {}
                bases[f"`estimated:flops`: {FLOPS_FORMULA}, joules_per_flop = "
                      f"{comp['joules_per_flop']:.4g} ({cal.get('method', '?')}; "
                      f"{cal.get('watts_per_core', '?')} W per core: "
                      f"{cal.get('watts_basis', '?')}; calibrated {cal.get('calibrated_at', '?')}"
                      "). It counts the model's matmul work at the calibration's efficiency: "
                      "a lower bound that does not grow when other jobs share the machine"] = None
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


def _ci(value: float, low: float, high: float, unit: str = "") -> str:
    return f"{value:+.1f}{unit} [{low:+.1f}, {high:+.1f}]"


def _ratio(iv) -> str:
    import math

    if not math.isfinite(iv.value):
        return "undefined (reference missed the target)"
    text = f"{iv.value:.2f}x"
    if math.isfinite(iv.low) and math.isfinite(iv.high):
        text += f" [{iv.low:.2f}, {iv.high:.2f}]"
    else:
        text += f" [{iv.low:.2f}, not reached]"
    if iv.unreached:
        text += f" (a side missed the target in {iv.unreached:.0%} of resamples)"
    return text


def _num_or_dash(x) -> str:
    return "-" if x is None else f"{x:.1f}"


def comparison_rows(evidence: Evidence) -> list[list[str]]:
    rows = []
    for c in evidence.comparisons:
        what = "vs best baseline" if c.kind == "baseline" else f"ablation: {c.removes}"
        rows.append([f"{c.a} - {c.b}", what,
                     _ci(c.last.value, c.last.low, c.last.high), _num_or_dash(c.last.detectable),
                     str(c.last.n),
                     f"{_ci(c.equal_energy.value, c.equal_energy.low, c.equal_energy.high)} "
                     f"at {kj(c.at_j)} kJ", str(c.equal_energy.n), _ratio(c.energy_ratio),
                     " / ".join(str(n) for n in c.last.seeds)])
    return rows


def seed_rows(evidence: Evidence) -> list[list[str]]:
    """One row per (curriculum, seed): F1 on the curve's common questions at each checkpoint."""
    rows = []
    for name, runs in evidence.runs.items():
        for r in runs:
            ids = set.intersection(*(set(s) for s in r.scores))
            points = ", ".join(f"{n} {kj(e)} kJ: {sum(s[q] for q in ids) / len(ids):.1f}"
                               for n, e, s in zip(r.names, r.energy_j, r.scores, strict=True))
            rows.append([name, str(r.seed), str(len(ids)), points,
                         f"{sum(r.scores[-1].values()) / len(r.scores[-1]):.1f} "
                         f"({len(r.scores[-1])} q.)"])
    return rows


def whole_cost(metrics: Metrics, grid: GridIntensity) -> list[str]:
    """Every joule the experiment's stages spent, by role, with its gCO2e estimate."""
    roles = {"data (prepare, rewrite, curate)": 0.0, "LLM synthesis (rewrite_llm)": 0.0,
             "base model": 0.0, "training": 0.0,
             "evaluation (measurement, not charged)": 0.0}
    for label in metrics.files:
        j = float(metrics.get(label, "energy_j"))
        kind = label.split("/")[0]
        role = {"prepare": "data (prepare, rewrite, curate)", "rewrite":
                "data (prepare, rewrite, curate)", "curate": "data (prepare, rewrite, curate)",
                "rewrite_llm": "LLM synthesis (rewrite_llm)",
                "base_model": "base model", "train": "training",
                "eval": "evaluation (measurement, not charged)"}.get(kind)
        if role:
            roles[role] += j
    total = sum(roles.values())
    lines = [f"{role}: {kj(j)} kJ, {grid.grams(j):.2f} gCO2e" for role, j in roles.items()]
    lines.append(f"whole experiment: {kj(total)} kJ, {grid.grams(total):.2f} gCO2e (estimate: "
                 f"{grid.g_per_kwh:g} gCO2e/kWh, {grid.source})")
    return lines


def build_document(cfg: DictConfig, metrics: Metrics, figures: Figures, curricula: list[str],
                   evidence: Evidence, grid: GridIntensity) -> list[tuple]:
    stages = stage_energy(metrics)
    bases = estimate_bases(metrics)
    sources = sorted({s for _, _, s, _, _ in stages})
    all_estimated = all(p.startswith("estimated") for s in sources for p in s.split("+"))
    counters = next((d.get("energy", {}).get("detail", {}).get("counters")
                     for d in metrics.files.values() if d.get("energy")), None)
    base_eval = metrics.files["eval/base"]
    n_questions = base_eval.get("n", "?")
    blocks: list[tuple] = [
        ("h1", f"Energy to accuracy: experiment `{cfg.experiment.name}`"),
        ("p", f"Verdict: {evidence.verdict}"),
        ("p", f"{cfg.model.name} fine-tuned with LoRA on {len(curricula)} curricula of "
              f"{cfg.experiment.token_budget} tokens each ({len(evidence.seeds)} training "
              f"seed(s): {', '.join(map(str, evidence.seeds))}), evaluated on {cfg.eval.name} "
              f"({n_questions} held-out human questions for the base model; each curriculum's "
              "question count is in the comparisons). Target F1: "
              f"{figures.target_f1:.1f} ({figures.target_basis})."),
        ("p", "Energy sources: " + ", ".join(f"`{s}`" for s in sources) + ". "
              + ("Every energy figure in this report is an estimate, not a measurement."
                 if all_estimated else "Each figure's source is given beside it.")),
        ("h2", "Results"),
        ("table", TABLE_HEADER, results_table(figures, metrics, grid)),
        ("p", "Energies in kJ. Data energy = (prepare + rewrite energy) x share + the "
              "curriculum's own curate energy, share = min(1, records it trains on / records "
              "rewrite made). Total = data + training. Training FLOPs: counted from parameters "
              "and tokens (`joule/flops.py`), a cost independent of the hardware. Energy to "
              "target = cumulative training energy where F1 reaches the target, interpolated "
              "between checkpoints; vs baselines = that energy / the baseline's. kJ per F1 "
              "point = total energy / (F1 - base model F1). Evaluation energy is a measurement "
              "cost, shown in its own column and charged to no curriculum. gCO2e = kWh x "
              f"{grid.g_per_kwh:g} gCO2e/kWh ({grid.source}): an estimate."),
        ("h2", "Paired comparisons"),
        ("table", ["comparison", "what", "F1 difference, last checkpoint [95%]",
                   "smallest detectable difference (80% power)", "questions",
                   "F1 difference at equal training energy [95%]", "questions (curve)",
                   "energy to target F1, ratio [95%]", "seeds"], comparison_rows(evidence)),
        ("p", "Paired on the same questions: each difference uses only the question ids both "
              "sides were scored on (the last checkpoint may be scored on more questions than "
              "the earlier ones; curves use the questions every checkpoint shares). Intervals: "
              f"{cfg.experiment.bootstrap_samples} bootstrap resamples of the questions, and of "
              "each side's seeds (so they include seed-to-seed spread). Equal training energy: "
              "the most both sides spent, F1 interpolated between checkpoints. Energy to target: "
              "interpolated where the curve crosses the target F1, not the first checkpoint "
              "past it. An interval that contains 0 (or 1 for ratios) is no measurable effect. "
              f"Smallest detectable difference: {DETECTABLE_Z:.2f} x the resamples' standard "
              "deviation, the true difference these questions and seeds would show as "
              "measurable (interval excluding 0) 80% of the time; a smaller one may be real and "
              "still unmeasured."),
        ("h2", "Every joule spent"),
        ("ul", whole_cost(metrics, grid)),
        ("h2", "Synthesis payback"),
        ("ul", figures.payback or ["no curated (non-baseline) curriculum in this experiment"]),
        ("h2", "Seeds"),
        ("table", ["curriculum", "seed", "questions (curve)", "F1 by checkpoint (cumulative "
                   "training kJ: F1)", "F1, last checkpoint"], seed_rows(evidence)),
        ("h2", "Plots"),
        ("img", "F1 against cumulative training energy; the star is the base model (0 J)",
         f1_curves(figures, "energy")),
        ("img", "F1 against cumulative training energy, one line per seed",
         seed_curves(evidence, figures.base.f1)),
        ("img", "F1 against training tokens", f1_curves(figures, "tokens")),
        ("img", "Energy by stage (hatched: estimated)",
         energy_by_stage([(label, j, s) for label, j, s, _, _ in stages])),
        ("h2", "Energy by stage: measured or estimated"),
        ("table", ["stage", "energy (kJ)", "time (s)", "source", "how"],
         [[label, kj(j), f"{t:.1f}", s, how] for label, j, s, t, how in stages]),
        ("ul", bases + ["`measured:nvml`: GPU energy counters read through NVML (Zeus); "
                        "`measured:rapl`: CPU package and DRAM counters (powercap, unwrapped). A "
                        "`+` joins the sources of a sum."]),
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


def summary(figures: Figures, metrics: Metrics, evidence: Evidence,
            grid: GridIntensity) -> dict:
    """report.json's figures (DVC metrics): per curriculum scores, energies, energy to target,
    gCO2e; the paired comparisons `paired.<a>.vs_<b>.*` (difference, interval bounds) and the
    verdict."""
    out = {"verdict": evidence.verdict, "best_baseline": evidence.best_baseline,
           "target_f1": figures.target_f1, "target_basis": figures.target_basis,
           "seeds": list(evidence.seeds),
           "base": {"f1": figures.base.f1, "em": figures.base.em,
                    "evaluation_energy_j": float(metrics.get("eval/base", "energy_j"))},
           "carbon": {"grid_intensity_g_per_kwh": grid.g_per_kwh, "source": grid.source,
                      "label": "estimated", "whole_experiment_gco2e": grid.grams(
                          sum(float(metrics.get(k, "energy_j")) for k in metrics.files))},
           "curricula": {}, "paired": {}}
    for r in figures.rows:
        entry = {"f1": r.f1, "em": r.em, "tokens": r.tokens, "training_flops": r.training_flops,
                 "training_energy_j": r.training_j,
                 "data_energy_j": r.data_j, "total_energy_j": r.total_j,
                 "total_gco2e": grid.grams(r.total_j),
                 "evaluation_energy_j": float(metrics.get(f"eval/{r.name}", "energy_j")),
                 "energy_source": r.total_source, "baseline": r.baseline,
                 "reached_target": r.energy_to_target_j is not None}
        if r.energy_to_target_j is not None:   # absent, not null, when the target was missed
            entry["energy_to_target_j"] = r.energy_to_target_j
            entry["energy_to_target_ratio"] = dict(r.ratio_to_baselines)
        out["curricula"][r.name] = entry
    for c in evidence.comparisons:
        out["paired"].setdefault(c.a, {})[f"vs_{c.b}"] = c.to_dict()
    return out


def readme_block(report: dict) -> str:
    """The README's result section, from `metrics/report.json` (the report's own numbers)."""
    lines = [f"**Verdict** (generated by `python -m pipeline.report --readme` from "
             f"`metrics/report.json`): {report['verdict']}", "",
             "| comparison | F1 difference, last checkpoint [95%] | detectable (80% power) | "
             "questions | energy to target, ratio [95%] |", "|---|---|---|---|---|"]
    for a, against in report.get("paired", {}).items():
        for b, c in against.items():
            ratio = "-" if c["energy_to_target_ratio"] is None else (
                f"{c['energy_to_target_ratio']:.2f}x [" + ", ".join(
                    "n/a" if x is None else f"{x:.2f}" for x in
                    (c["energy_to_target_ratio_low"], c["energy_to_target_ratio_high"])) + "]")
            lines.append(f"| {a} - {b.removeprefix('vs_')} | "
                         f"{_ci(c['f1_diff'], c['f1_diff_low'], c['f1_diff_high'])} | "
                         f"{_num_or_dash(c.get('f1_diff_detectable_80'))} | "
                         f"{c['n_questions']} | {ratio} |")
    carbon = report.get("carbon", {})
    if carbon:
        lines += ["", f"Whole experiment: {carbon['whole_experiment_gco2e']:.2f} gCO2e (estimate "
                      f"at {carbon['grid_intensity_g_per_kwh']:g} gCO2e/kWh: "
                      f"{carbon['source']}). Seeds: {report.get('seeds')}. Full report: "
                      "`reports/report.html`."]
    return "\n".join(lines) + "\n"
