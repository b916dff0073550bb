"""The rewrite_llm stage end to end against a real OpenAI-compatible server (`transformers
serve` with a tiny random model written by the test), and in-process with the `hf` backend."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from joule.config import compose
from joule.io import read_table
from pipeline.rewrite_llm import main
from tests.rewrite_fixtures import good_pages, write_pages

STYLES = ["qa_diverse", "paraphrase_wiki", "paraphrase_easy", "knowledge_list"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tiny_model):
    """`transformers serve` on a free loopback port, serving the tiny model; yields its URL."""
    cli = shutil.which("transformers", path=str(Path(sys.executable).parent))
    if cli is None:
        pytest.fail("the transformers CLI is not installed beside this python")
    port = free_port()
    proc = subprocess.Popen([cli, "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--device", "cpu", str(tiny_model)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240   # slow on a loaded 2-core machine
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode()[-2000:] if proc.poll() is not None else ""
                    pytest.fail(f"transformers serve did not start: {err}")
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def config(tmp_path, *extra):
    return compose([f"data_dir={tmp_path / 'data'}", f"metrics_dir={tmp_path / 'metrics'}",
                    "energy.use_zeus=false", "rewrite_llm.min_passage_chars=50",
                    "rewrite_llm.max_pages=2",
                    "rewrite_llm.generation.max_tokens=12",
                    *[f"rewrite_llm.styles.{s}.generation.max_tokens=12" for s in STYLES],
                    *extra])


def check_outputs(tmp_path, m):
    assert m["requests"] == 8 and m["passages"] == 2
    assert m["prompt_tokens"] > 100 and m["generated_tokens"] > 0
    for style in STYLES:   # a table per style, even when a random model's text grounds nothing
        table = read_table(tmp_path / "data" / "records_llm" / style)
        assert table.num_rows == m["records"][style]
    made = sum(m["records"].values()) + sum(sum(d.values()) for d in m["drops"].values())
    assert made > 0   # every answer became records or counted drops


@pytest.mark.integration
def test_stage_against_transformers_serve(tmp_path, served, tiny_model):
    write_pages(tmp_path / "data", good_pages())
    cfg = config(tmp_path, "rewrite_llm/backend=openai", f"rewrite_llm.backend.base_url={served}",
                 f"rewrite_llm.backend.model={tiny_model}", "rewrite_llm.backend.concurrency=2")
    m = main(cfg)
    check_outputs(tmp_path, m)
    assert m["requests_sent"] == 8 and m["energy_source"].endswith("+estimated:tokens")
    assert m["energy_remote"]["energy_j"] > 0 and m["base_url"] == served
    again = main(cfg)
    assert again["requests_sent"] == 0 and again["answers_from_cache"] == 8


@pytest.mark.integration
def test_stage_in_process_hf(tmp_path, tiny_model):
    write_pages(tmp_path / "data", good_pages())
    m = main(config(tmp_path, f"rewrite_llm.backend.path={tiny_model}",
                    "rewrite_llm.backend.model=tiny", "rewrite_llm.backend.batch_size=3"))
    check_outputs(tmp_path, m)
    assert m["backend"] == "hf" and m["requests_sent"] == 8 and m["energy_j"] > 0
    assert "estimated:tokens" not in m["energy_source"]


@pytest.mark.integration
def test_cached_hf_rerun_reports_the_cached_generations_energy(tmp_path, tiny_model):
    """A re-run served from the cache sends nothing and still reports what its answers cost:
    its own window plus the cost stored with each cached answer (issue 20)."""
    import json
    import sqlite3

    write_pages(tmp_path / "data", good_pages())
    cfg = config(tmp_path, f"rewrite_llm.backend.path={tiny_model}",
                 "rewrite_llm.backend.model=tiny", "rewrite_llm.backend.batch_size=3")
    first = main(cfg)
    assert first["requests_sent"] == 8 and first["energy_carried"]["energy_j"] == 0
    assert 0 < first["energy_generation_j"] <= first["energy_j"]
    again = main(cfg)
    assert again["requests_sent"] == 0 and again["answers_from_cache"] == 8
    assert again["energy_generation_j"] == 0
    carried = again["energy_carried"]
    assert carried["answers"] == 8 and list(carried["by_source"]) == ["stored:estimated:tdp"]
    # the cached answers carry exactly what the first run's generation windows measured
    assert carried["energy_j"] == pytest.approx(first["energy_generation_j"], rel=1e-6, abs=1e-3)
    assert again["energy_source"] == "estimated:tdp+cache:stored:estimated:tdp"
    # Same total within 30%: both runs load the model and parse; the re-run's generation is the
    # carried figure (CPU-time estimates of two runs on a shared machine differ by that much).
    print(f"hf: first run {first['energy_j']} J (generation {first['energy_generation_j']} J), "
          f"cached re-run {again['energy_j']} J ({carried['energy_j']} J carried)")
    assert again["energy_j"] == pytest.approx(first["energy_j"], rel=0.3)

    # An older cache (answers without a stored cost) is counted from tokens, labelled.
    db = sqlite3.connect(tmp_path / "data" / "cache" / "rewrite_llm" / "cache.sqlite")
    for key, answer in db.execute("SELECT key, answer FROM answers").fetchall():
        row = json.loads(answer)
        row.pop("cost")
        db.execute("UPDATE answers SET answer = ? WHERE key = ?", (json.dumps(row), key))
    db.commit()
    db.close()
    old = main(cfg)
    legacy = old["energy_carried"]["by_source"]["estimated:tokens (no stored cost)"]
    assert legacy["answers"] == 8
    assert legacy["energy_j"] == pytest.approx(1.96 * first["generated_tokens"], rel=1e-3)
    assert old["energy_carried"]["estimate"]["joules_per_generated_token"] == 1.96
    assert old["energy_source"] == "estimated:tdp+cache:estimated:tokens"
