"""The report stage: its figures match hand-written fixture metrics, its files are well formed."""

from __future__ import annotations

import base64
import hashlib
import json
from html.parser import HTMLParser

import pytest

from joule.config import compose
from joule.errors import JouleError
from joule.io import write_json
from pipeline.report import main
from reporting.document import TABLE_HEADER

ESTIMATE = {"components": {"cpu": {"energy_j": 0.0, "source": "estimated:tdp",
                                   "cpu_time_s": 2.0, "watts_per_core": 5.0,
                                   "basis": "fallback: CPU model 'AMD EPYC' is not in the TDP "
                                            "table"}},
            "detail": {"counters": ["GPU: no counter (test)", "CPU: no RAPL counter (test)"]}}

# curriculum -> (records_out, curate J, train J, [(checkpoint, tokens, cumulative J, F1, EM)])
CURRICULA = {
    "curated": (200, 30.0, 5000.0, [("ckpt-050", 500, 1500.0, 42.0, 30.0),
                                     ("ckpt-100", 1000, 3000.0, 45.0, 33.0)]),
    "raw": (400, 5.0, 5200.0, [("ckpt-050", 500, 2000.0, 30.0, 20.0),
                               ("ckpt-100", 1000, 4000.0, 35.0, 25.0)]),
    "synthetic_all": (600, 10.0, 5100.0, [("ckpt-050", 500, 2500.0, 40.0, 28.0),
                                          ("ckpt-100", 1000, 5000.0, 38.0, 27.0)]),
}


def stage_file(energy_j: float, source: str = "estimated:tdp", **extra) -> dict:
    return {"time_s": 10.0, "energy_j": energy_j, "energy_source": source, "energy": ESTIMATE,
            **extra}


QUESTIONS = [f"q{i:03d}" for i in range(100)]


def write_predictions(root, key: str, checkpoint: str, f1: float, ids=QUESTIONS) -> None:
    """Per-question F1 (a fraction, as evaluation writes it) whose mean x 100 is `f1`: 1 on
    round(f1)% of the questions, 0 on the others;
    which questions depends on the run (a fixed shuffle per key), as real runs differ."""
    hits = round(f1 / 100 * len(ids))
    order = sorted(ids, key=lambda q: hashlib.sha256(f"{key}/{q}".encode()).hexdigest())
    won = set(order[:hits])
    rows = [{"id": q, "f1": 1.0 if q in won else 0.0, "em": 0.0, "prediction": "x",
             "answers": ["x"], "question": "?"} for q in ids]
    path = root / key / f"{checkpoint}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def write_metrics(root, train_sources: dict | None = None, curricula: dict | None = None,
                  key_suffix: str = "") -> None:
    """Metrics files of prepare, rewrite, base_model, the base model's eval and 3 curricula,
    and the predictions files beside them (`<root>/../predictions`)."""
    predictions = root.parent / "predictions"
    write_predictions(predictions, "base", "base", 20.0)
    write_json(root / "prepare.json", stage_file(100.0, pages=10))
    write_json(root / "rewrite.json", stage_file(900.0, records={"qa_extractive": 600,
                                                                  "raw": 400}))
    write_json(root / "base_model.json", stage_file(50.0))
    base_ck = {"name": "base", "tokens": 0, "energy_j": 0, "f1": 20.0, "em": 10.0,
               "f1_ci95": [15.0, 25.0], "em_ci95": [5.0, 15.0]}
    write_json(root / "eval" / "base.json",
               stage_file(40.0, f1=20.0, em=10.0, n=100, f1_ci95=[15.0, 25.0],
                          em_ci95=[5.0, 15.0], checkpoints=[base_ck]))
    for name, (records, curate_j, train_j, points) in (curricula or CURRICULA).items():
        write_json(root / "curate" / f"{name}.json", stage_file(curate_j, records_out=records))
        for ck, _, _, f1, _ in points:
            write_predictions(predictions, name + key_suffix, ck, f1)
        train_cks = [{"name": ck, "fraction": tokens / 1000, "tokens": tokens, "energy_j": e,
                      "energy_source": "estimated:tdp", "time_s": 1.0,
                      "flops": tokens * 540_000_000,
                      "path": f"{name}/{ck}"} for ck, tokens, e, _, _ in points]
        source = (train_sources or {}).get(name, "estimated:tdp")
        write_json(root / "train" / f"{name}{key_suffix}.json",
                   stage_file(train_j, source, checkpoints=train_cks, final=points[-1][0]))
        eval_cks = [{"name": ck, "tokens": tokens, "energy_j": e, "f1": f1, "em": em,
                     "f1_ci95": [f1 - 4, f1 + 4], "em_ci95": [em - 4, em + 4]}
                    for ck, tokens, e, f1, em in points]
        final = eval_cks[-1]
        write_json(root / "eval" / f"{name}{key_suffix}.json",
                   stage_file(60.0, f1=final["f1"], em=final["em"], n=100,
                              f1_ci95=final["f1_ci95"], em_ci95=final["em_ci95"],
                              checkpoints=eval_cks))


def config(tmp_path, *overrides):
    # one seed unless a test names its seeds (the hand-made metrics are of seed 0)
    seeds = [] if any(o.startswith("experiment.seeds=") for o in overrides) else [
        "experiment.seeds=[${seed}]"]
    return compose([f"metrics_dir={tmp_path / 'metrics'}", f"reports_dir={tmp_path / 'reports'}",
                    f"eval.predictions_dir={tmp_path / 'predictions'}",
                    "experiment.bootstrap_samples=300", "~curricula.curated_shuffled",
                    *seeds, *overrides])


def table(md: str, heading: str = "## Results") -> dict[str, dict[str, str]]:
    """The first Markdown table after `heading`, as {first cell: {column: cell}}."""
    lines = md.split(heading, 1)[1].strip().splitlines()
    end = next((i for i, line in enumerate(lines) if not line.startswith("|")), len(lines))
    rows = lines[:end]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    out = {}
    for line in rows[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        out[cells[0]] = dict(zip(header, cells, strict=True))
    return out


@pytest.fixture
def report(tmp_path):
    write_metrics(tmp_path / "metrics")
    metrics = main(config(tmp_path))
    return {"metrics": metrics, "md": (tmp_path / "reports" / "report.md").read_text(),
            "html": (tmp_path / "reports" / "report.html").read_text(), "dir": tmp_path}


def test_table_matches_the_metrics_files(report):
    rows = table(report["md"])
    assert list(next(iter(rows.values()))) == TABLE_HEADER
    curated = rows["curated"]
    assert curated["tokens"] == "1000"
    assert curated["training FLOPs"] == "5.4e+11"         # final checkpoint: 1000 * 5.4e8
    assert float(curated["training energy (kJ)"]) == pytest.approx(5.000)
    # data = (prepare 100 J + rewrite 900 J) * 200/1000 records + curate 30 J = 230 J
    assert float(curated["data energy (kJ)"]) == pytest.approx(0.230)
    assert float(curated["total energy (kJ)"]) == pytest.approx(5.230)
    assert curated["F1 [95% CI]"] == "45.0 [41.0, 49.0]"
    assert curated["EM [95% CI]"] == "33.0 [29.0, 37.0]"
    # 5230 J / (45 - 20) F1 points
    assert float(curated["kJ per F1 point over base"]) == pytest.approx(5230 / 25 / 1000, abs=1e-3)
    raw = rows["raw (baseline)"]
    assert float(raw["data energy (kJ)"]) == pytest.approx((1000 * 0.4 + 5) / 1000)
    assert rows["base model"]["F1 [95% CI]"] == "20.0 [15.0, 25.0]"
    summary = report["metrics"]["curricula"]
    assert summary["curated"]["total_energy_j"] == pytest.approx(5230.0)
    assert summary["raw"]["f1"] == 35.0 and summary["synthetic_all"]["em"] == 27.0
    written = json.loads((report["dir"] / "metrics" / "report.json").read_text())
    assert written["curricula"] == json.loads(json.dumps(summary))
    assert written["energy_source"] == "estimated:tdp" and written["energy_j"] >= 0


def test_energy_to_target_hand_worked(report):
    # Target: best F1 of the baselines = synthetic_all's 40.0 at ckpt-050 (raw peaks at 35).
    rows = table(report["md"])
    assert report["metrics"]["target_f1"] == 40.0
    assert "synthetic_all at checkpoint ckpt-050" in report["metrics"]["target_basis"]
    # curated crosses 40 between the base model (20 at 0 J) and ckpt-050 (42 at 1500 J):
    # interpolated, 1500 * 20 / 22 = 1363.6 J (not 1500 J, the first checkpoint past it).
    assert rows["curated"]["energy to target F1 (kJ)"] == "1.364 (at ckpt-050)"
    assert rows["synthetic_all (baseline)"]["energy to target F1 (kJ)"] == "2.500 (at ckpt-050)"
    assert rows["raw (baseline)"]["energy to target F1 (kJ)"] == "not reached"
    assert rows["curated"]["energy to target vs baselines"] == "0.55x synthetic_all"
    summary = report["metrics"]["curricula"]
    assert summary["curated"]["energy_to_target_ratio"] == {
        "synthetic_all": pytest.approx(1500 * 20 / 22 / 2500)}
    assert summary["raw"]["reached_target"] is False and "energy_to_target_j" not in summary["raw"]
    # Payback: 2500 - 1363.6 = 1136.4 J saved for 230 J of data making.
    payback = report["md"].split("## Synthesis payback", 1)[1].split("##", 1)[0]
    assert "saved 1.136 kJ" in payback and "4.94x" in payback


def test_configured_target_and_no_baseline_reaching_it(tmp_path):
    write_metrics(tmp_path / "metrics")
    metrics = main(config(tmp_path, "experiment.target_f1=44"))
    md = (tmp_path / "reports" / "report.md").read_text()
    rows = table(md)
    # 42 at 1500 J, 45 at 3000 J: 44 is reached 2/3 of the way, at 2500 J
    assert rows["curated"]["energy to target F1 (kJ)"] == "2.500 (at ckpt-100)"
    assert rows["curated"]["energy to target vs baselines"] == "-"
    assert metrics["target_basis"] == "configured (experiment.target_f1)"
    assert "no baseline reached the target F1" in md


def test_html_is_well_formed_with_png_plots(report):
    class Checker(HTMLParser):
        void = {"meta", "img", "br", "hr", "link", "input", "wbr"}

        def __init__(self):
            super().__init__()
            self.stack, self.images, self.errors = [], [], []

        def handle_starttag(self, tag, attrs):
            if tag == "img":
                self.images.append(dict(attrs)["src"])
            elif tag not in self.void:
                self.stack.append(tag)

        def handle_endtag(self, tag):
            if not self.stack or self.stack.pop() != tag:
                self.errors.append(tag)

    checker = Checker()
    checker.feed(report["html"])
    checker.close()
    assert report["html"].startswith("<!DOCTYPE html>")
    assert checker.errors == [] and checker.stack == []
    assert len(checker.images) == 4
    for src in checker.images:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        png = base64.b64decode(src[len(prefix):], validate=True)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    assert "http://" not in report["html"] and "https://" not in report["html"]


def test_plots_json_rows(report):
    rows = json.loads((report["dir"] / "metrics" / "plots" / "f1_vs_energy.json").read_text())
    assert rows[0] == {"curriculum": "base", "checkpoint": "base", "energy_j": 0.0, "tokens": 0,
                       "f1": 20.0}
    assert len(rows) == 1 + sum(len(c[3]) for c in CURRICULA.values())
    assert {"curriculum": "curated", "checkpoint": "ckpt-100", "energy_j": 3000.0,
            "tokens": 1000, "f1": 45.0} in rows
    assert all(set(r) == {"curriculum", "checkpoint", "energy_j", "tokens", "f1"} for r in rows)


def test_estimates_are_labelled_with_their_formula(report):
    md = report["md"]
    assert "Every energy figure in this report is an estimate" in md
    assert "energy_j = cpu_time_s * cpu_tdp_w / cpu_package_cores" in md
    assert "fallback: CPU model 'AMD EPYC'" in md
    stages = table(md, "## Energy by stage: measured or estimated")
    assert set(stages) >= {"prepare", "rewrite", "base_model", "eval/base", "train/curated"}
    assert all(s["source"] == "estimated:tdp" for s in stages.values())
    assert stages["train/curated"]["how"] == "cpu: 2.0 CPU s x 5 W/core"
    assert "Git commit:" in md and "SmolLM2-135M-Instruct" in md


def test_mixed_sources_are_spelled_out(tmp_path):
    write_metrics(tmp_path / "metrics", {"curated": "measured:nvml+estimated:tdp"})
    main(config(tmp_path))
    rows = table((tmp_path / "reports" / "report.md").read_text())
    assert rows["curated"]["energy source"] == \
        "training measured:nvml+estimated:tdp; data estimated:tdp"
    assert rows["raw (baseline)"]["energy source"] == "estimated:tdp"


def test_missing_metrics_file_is_named(tmp_path):
    write_metrics(tmp_path / "metrics")
    (tmp_path / "metrics" / "train" / "raw.json").unlink()
    with pytest.raises(JouleError, match="train/raw.json"):
        main(config(tmp_path))
    assert not (tmp_path / "reports").exists()
    assert not (tmp_path / "metrics" / "report.json").exists()


def test_bad_baselines_and_missing_keys_are_named(tmp_path):
    write_metrics(tmp_path / "metrics")
    with pytest.raises(JouleError, match="experiment.baselines"):
        main(config(tmp_path, "experiment.baselines=[nope]"))
    data = json.loads((tmp_path / "metrics" / "curate" / "raw.json").read_text())
    del data["records_out"]
    write_json(tmp_path / "metrics" / "curate" / "raw.json", data)
    with pytest.raises(JouleError, match=r"curate/raw.json has no 'records_out'"):
        main(config(tmp_path))


# --- paired comparisons, seeds, verdict, carbon, whole cost ------------------------------------

def with_last_f1(f1: float) -> dict:
    """CURRICULA with curated's last checkpoint at `f1`."""
    records, curate_j, train_j, points = CURRICULA["curated"]
    last = points[-1]
    return {**CURRICULA, "curated": (records, curate_j, train_j,
                                     [points[0], (*last[:3], f1, last[4])])}


@pytest.mark.parametrize("last_f1, start", [
    (58.0, "Curated beats synthetic_all by 20.0 F1 [+"),
    (38.0, "Curated and synthetic_all show no measurable difference (+0.0 F1 [-"),
    (15.0, "Curated scores below synthetic_all by 23.0 F1 [-"),
])
def test_verdict_from_hand_made_metrics(tmp_path, last_f1, start):
    """synthetic_all (38 at its last checkpoint) is the best baseline (raw: 35)."""
    write_metrics(tmp_path / "metrics", curricula=with_last_f1(last_f1))
    metrics = main(config(tmp_path))
    md = (tmp_path / "reports" / "report.md").read_text()
    assert metrics["verdict"].startswith(start), metrics["verdict"]
    assert metrics["best_baseline"] == "synthetic_all"
    assert md.split("\n\n")[1] == f"Verdict: {metrics['verdict']}"   # right under the title
    pair = metrics["paired"]["curated"]["vs_synthetic_all"]
    assert pair["f1_diff"] == pytest.approx(last_f1 - 38.0)
    assert pair["f1_diff_low"] <= pair["f1_diff"] <= pair["f1_diff_high"]
    assert pair["n_questions"] == 100
    assert ("beats" in metrics["verdict"]) == (pair["f1_diff_low"] > 0)


def test_ablation_pairs_and_equal_energy(tmp_path):
    shuffled = {"curated_shuffled": (200, 30.0, 5000.0, [("ckpt-050", 500, 1500.0, 41.0, 30.0),
                                                          ("ckpt-100", 1000, 3000.0, 46.0, 33.0)])}
    write_metrics(tmp_path / "metrics", curricula={**CURRICULA, **shuffled})
    cfg = compose([f"metrics_dir={tmp_path / 'metrics'}", f"reports_dir={tmp_path / 'reports'}",
                   f"eval.predictions_dir={tmp_path / 'predictions'}",
                   "experiment.bootstrap_samples=300", "experiment.seeds=[${seed}]"])
    metrics = main(cfg)
    ablation = metrics["paired"]["curated"]["vs_curated_shuffled"]
    assert ablation["f1_diff"] == pytest.approx(-1.0)
    assert "the easy-to-hard order shows no measurable effect (curated vs curated_shuffled: " \
           "-1.0 F1 [" in metrics["verdict"]
    assert "curated_shuffled" not in metrics["paired"]           # an ablation is not a headline
    vs_base = metrics["paired"]["curated"]["vs_synthetic_all"]
    # equal energy: the most both spent = curated's 3000 J; synthetic_all at 3000 J lies between
    # 40 (2500 J) and 38 (5000 J): 39.6; curated 45 there
    assert vs_base["equal_energy_j"] == 3000.0
    assert vs_base["f1_diff_equal_energy"] == pytest.approx(45.0 - 39.6)
    assert vs_base["energy_to_target_ratio"] == pytest.approx(1500 * 20 / 22 / 2500)
    assert vs_base["energy_to_target_ratio_low"] <= vs_base["energy_to_target_ratio"]
    high = vs_base["energy_to_target_ratio_high"]
    # a resample where curated misses the resampled target makes the ratio unbounded: null
    assert (high is None) == (vs_base["target_missed_share"] > 0.025) or high >= 0.545


def test_pairs_only_common_questions(tmp_path):
    """The last checkpoint scored on more questions than the earlier ones (full set vs sample)."""
    write_metrics(tmp_path / "metrics")
    more = [f"q{i:03d}" for i in range(160)]
    for name, (_, _, _, points) in CURRICULA.items():
        write_predictions(tmp_path / "predictions", name, points[-1][0], points[-1][3], more)
    metrics = main(config(tmp_path))
    pair = metrics["paired"]["curated"]["vs_synthetic_all"]
    assert pair["n_questions"] == 160 and pair["n_questions_curve"] == 100


def test_seeds_are_read_and_widen_nothing_silently(tmp_path):
    write_metrics(tmp_path / "metrics")
    write_metrics(tmp_path / "metrics", curricula=with_last_f1(40.0), key_suffix="-seed1")
    metrics = main(config(tmp_path, "experiment.seeds=[0,1]"))
    md = (tmp_path / "reports" / "report.md").read_text()
    seeds = table(md, "## Seeds")
    assert len(md.split("## Seeds")[1].split("##")[0].strip().splitlines()) == 2 + 6
    assert seeds["curated"]["F1, last checkpoint"] in ("40.0 (100 q.)", "45.0 (100 q.)")
    pair = metrics["paired"]["curated"]["vs_synthetic_all"]
    assert pair["seeds"] == [2, 2] and pair["f1_diff"] == pytest.approx((45 + 40) / 2 - 38)
    assert "2 seeds" in metrics["verdict"]
    (tmp_path / "metrics" / "eval" / "raw-seed1.json").unlink()
    with pytest.raises(JouleError, match="eval/raw-seed1.json"):
        main(config(tmp_path, "experiment.seeds=[0,1]"))


def test_carbon_and_evaluation_energy_columns(tmp_path, report):
    rows = table(report["md"])
    # curated total 5230 J = 5230 / 3.6e6 kWh x 475 gCO2e/kWh
    assert float(rows["curated"]["gCO2e (estimate)"]) == pytest.approx(5230 / 3.6e6 * 475,
                                                                       abs=0.01)
    assert rows["curated"]["evaluation energy (kJ, not charged)"] == "0.060"
    assert rows["base model"]["evaluation energy (kJ, not charged)"] == "0.040"
    summary = report["metrics"]
    assert summary["carbon"]["label"] == "estimated" and "IEA" in summary["carbon"]["source"]
    assert summary["curricula"]["curated"]["evaluation_energy_j"] == 60.0
    cost = report["md"].split("## Every joule spent", 1)[1].split("##", 1)[0]
    # 100 + 900 + 3 curate (45) | 50 | 3 train (15300) | 40 + 3 x 60
    assert "data (prepare, rewrite, curate): 1.045 kJ" in cost
    assert "evaluation (measurement, not charged): 0.220 kJ" in cost
    assert "whole experiment: 16.615 kJ" in cost


def test_country_intensity_from_codecarbon_data(tmp_path, monkeypatch):
    import importlib.metadata

    from reporting import carbon

    data = tmp_path / "data" / "private_infra"
    data.mkdir(parents=True)
    (data / "global_energy_mix.json").write_text(json.dumps(
        {"FRA": {"carbon_intensity": 85.0, "country_name": "France", "year": 2021}}))
    monkeypatch.setattr(carbon.resources, "files", lambda package: tmp_path)
    monkeypatch.setattr(importlib.metadata, "version", lambda package: "9.9")
    grid = carbon.grid_intensity({"country": "fra"})
    assert grid.g_per_kwh == 85.0 and "France (2021)" in grid.source
    assert grid.grams(3.6e6) == pytest.approx(85.0)
    with pytest.raises(JouleError, match="'XXX' is not in CodeCarbon"):
        carbon.grid_intensity({"country": "XXX"})
    with pytest.raises(JouleError, match="experiment.carbon.source"):
        carbon.grid_intensity({"grid_intensity_g_per_kwh": 100, "source": ""})

    def absent(package):
        raise ModuleNotFoundError(package)

    monkeypatch.setattr(carbon.resources, "files", absent)
    with pytest.raises(JouleError, match="pip install codecarbon"):
        carbon.grid_intensity({"country": "FRA"})


def test_readme_block_is_written_from_report_json(report, tmp_path):
    from pipeline.report import README_END, README_START, write_readme

    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n## Result\n{README_START}\nOLD-TEXT\n{README_END}\n\n## More\n")
    write_readme(config(report["dir"]), readme)
    text = readme.read_text()
    assert "OLD-TEXT" not in text and text.endswith(f"{README_END}\n\n## More\n")
    block = text.split(README_START)[1].split(README_END)[0]
    assert report["metrics"]["verdict"] in block
    assert "| curated - synthetic_all | +7.0 [" in block
    readme.write_text("no markers")
    with pytest.raises(JouleError, match="results:start"):
        write_readme(config(report["dir"]), readme)


def test_flops_estimated_training_puts_the_curve_on_the_same_basis(tmp_path):
    """Checkpoint rows carry CPU-time energies written during training; with an
    `estimated:flops` stage the report uses FLOPs x the stage's joules per FLOP for them too."""
    write_metrics(tmp_path / "metrics")
    path = tmp_path / "metrics" / "train" / "curated.json"
    data = json.loads(path.read_text())
    data["energy"] = {"components": {"cpu": {
        "energy_j": 1.08e12 * 2e-9, "source": "estimated:flops", "flops": 5.4e11,
        "joules_per_flop": 2e-9, "calibration": {"method": "test"}, "cpu_time_s": 9.0,
        "tdp_estimate_j": 45.0, "watts_per_core": 5.0, "basis": "t"}}}
    data["energy_j"], data["energy_source"] = 5.4e11 * 2e-9, "estimated:flops"
    write_json(path, data)
    main(config(tmp_path))
    rows = json.loads((tmp_path / "metrics" / "plots" / "f1_vs_energy.json").read_text())
    curated = {r["checkpoint"]: r["energy_j"] for r in rows if r["curriculum"] == "curated"}
    assert curated == {"ckpt-050": pytest.approx(500 * 5.4e8 * 2e-9),
                       "ckpt-100": pytest.approx(1000 * 5.4e8 * 2e-9)}
    md = (tmp_path / "reports" / "report.md").read_text()
    assert "`estimated:flops`: energy_j = flops * joules_per_flop, joules_per_flop = 2e-09" in md
    stages = table(md, "## Energy by stage: measured or estimated")
    assert stages["train/curated"]["how"] == "cpu: 5.4e+11 FLOPs x 2e-09 J/FLOP"


def test_llm_curriculum_is_charged_the_llm_rewrite_and_every_joule_shows_it(tmp_path):
    root = tmp_path / "metrics"
    write_metrics(root)
    write_json(root / "rewrite_llm.json", stage_file(2000.0, records={"qa_diverse": 100,
                                                                      "paraphrase": 100}))
    # synthetic_all reads the LLM records (records_out 600 of 200 made: share capped at 1)
    metrics = main(config(tmp_path, "+curricula.synthetic_all.records=[records_llm]"))
    md = (tmp_path / "reports" / "report.md").read_text()
    cost = md.split("## Every joule spent", 1)[1].split("##", 1)[0]
    assert "LLM synthesis (rewrite_llm): 2.000 kJ" in cost
    assert "whole experiment: 18.615 kJ" in cost
    # (prepare 100 + rewrite_llm 2000) x share 1 + curate 10, not the spaCy rewrite's 900
    assert metrics["curricula"]["synthetic_all"]["data_energy_j"] == pytest.approx(2110.0)
    assert metrics["curricula"]["curated"]["data_energy_j"] != pytest.approx(2110.0)


def test_per_question_f1_is_read_as_the_fraction_evaluation_writes(tmp_path):
    from reporting.evidence import read_scores

    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "a", "f1": 0.5}\n{"id": "b", "f1": 1.0}\n')
    assert read_scores(path) == {"a": 50.0, "b": 100.0}
    path.write_text('{"id": "a", "f1": 55.0}\n')     # a file on another scale is refused
    with pytest.raises(JouleError, match=r"p\.jsonl, line 1: .*not a fraction"):
        read_scores(path)
