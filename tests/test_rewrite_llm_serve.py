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
