"""Generation engines behind one interface: every engine answers as `hf` (the reference) on a
tiny random model; engines come from conf/engine/; devices resolve, or fail, clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from evaluation.common import resolve_device
from evaluation.cpu_shared_prefix.generate import SharedPrefixEngine
from evaluation.engine import Engine, make_engine
from evaluation.hf import HFEngine
from joule.config import PROJECT_ROOT, compose
from joule.errors import JouleError

ENGINE_KEYS = sorted(p.stem for p in (PROJECT_ROOT / "conf" / "engine").glob("*.yaml"))


def _prompts(tokenizer):
    """Open-book-like prompts: an instruction shared by all, passages shared by groups."""
    passages = ["The treaty ended the war in 1783 and Paris was", "Lincoln was elected in",
                "Aristotle taught Alexander the Great in Macedon, and"]
    questions = [" Question: when?", " Question: who taught Alexander?", " Who?"]
    pairs = [(p, q) for p in passages for q in questions][:-1]   # groups of 3, 3 and 2
    texts = ["Answer the question. " + p + q for p, q in pairs]
    return ([tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts],
            [p for p, _ in pairs])


@pytest.fixture(scope="module")
def adapter(tmp_path_factory, tiny_model):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    path = tmp_path_factory.mktemp("adapter") / "ckpt-100"
    torch.manual_seed(3)
    lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(AutoModelForCausalLM.from_pretrained(str(tiny_model)), lora).save_pretrained(
        path)
    return path


def _answers(engine: Engine, model_dir: Path, adapter, grouped: bool):
    tokenizer = engine.load(model_dir)
    prompts, groups = _prompts(tokenizer)
    model = engine.prepare(adapter, "float32")
    return engine.generate(model, prompts, max_new_tokens=6, groups=groups if grouped else None)


@pytest.mark.parametrize("use_adapter", [False, True])
@pytest.mark.parametrize(("engine", "grouped"), [
    (lambda: SharedPrefixEngine(device="cpu", batch_size=4, workers=1), True),
    (lambda: SharedPrefixEngine(device="cpu", batch_size=4, workers=1), False),
    (lambda: SharedPrefixEngine(device="cpu", batch_size=2, workers=2), True),
    (lambda: HFEngine(device="cpu", batch_size=1), False),   # hf unbatched: no padding at all
], ids=["shared_prefix", "shared_prefix_no_groups", "shared_prefix_2_workers", "hf_one_by_one"])
def test_every_engine_answers_as_hf(tiny_model, adapter, engine, grouped, use_adapter):
    ckpt = adapter if use_adapter else None
    reference = _answers(HFEngine(device="cpu", batch_size=3), tiny_model, ckpt, grouped=True)
    answers = _answers(engine(), tiny_model, ckpt, grouped)
    assert [(a.text, a.new_tokens, a.prompt_tokens) for a in answers] == \
           [(a.text, a.new_tokens, a.prompt_tokens) for a in reference]
    assert any(a.text for a in reference)
    # hf computes every prompt token; the tree computes shared prefixes once
    assert all(a.computed_prompt_tokens == a.prompt_tokens for a in reference)
    if grouped and isinstance(engine(), SharedPrefixEngine):
        assert sum(a.computed_prompt_tokens for a in answers) < \
               sum(a.prompt_tokens for a in answers)


def test_the_adapter_changes_the_answers_and_leaves_the_base_alone(tiny_model, adapter):
    engine = HFEngine(device="cpu", batch_size=4)
    tokenizer = engine.load(tiny_model)
    prompts, _ = _prompts(tokenizer)
    before = {k: v.clone() for k, v in engine.base.state_dict().items()}
    merged = engine.generate(engine.prepare(adapter, "float32"), prompts, 6)
    plain = engine.generate(engine.prepare(None, "float32"), prompts, 6)
    assert [a.text for a in merged] != [a.text for a in plain]
    for key, value in engine.base.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_hf_places_model_and_inputs_on_its_device(tiny_model):
    engine = HFEngine(device="cpu", batch_size=2)
    tokenizer = engine.load(tiny_model)
    model = engine.prepare(None, "float32")
    seen = []
    model.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(kwargs["input_ids"].device), with_kwargs=True)
    engine.generate(model, _prompts(tokenizer)[0][:2], 2)
    assert seen and {d.type for d in seen} == {"cpu"}
    assert {p.device.type for p in model.parameters()} == {"cpu"}


def test_generate_needs_load_first():
    with pytest.raises(RuntimeError, match="call load"):
        HFEngine(device="cpu").generate(None, [[1]], 2)


def test_device_auto_is_cuda_only_where_torch_sees_it(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(JouleError, match="engine.device='cuda', but torch sees no CUDA"):
        resolve_device("cuda")
    with pytest.raises(JouleError, match="engine.device='cuda:1', but torch sees no CUDA"):
        resolve_device("cuda:1")
    with pytest.raises(JouleError, match="engine.device='gpu' is not a device"):
        resolve_device("gpu")
    with pytest.raises(JouleError, match="only cpu and cuda"):
        resolve_device("meta")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda:1")


def test_the_shared_prefix_engine_refuses_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for device in ("auto", "cuda"):
        with pytest.raises(JouleError, match="CPU only.*use engine=hf"):
            SharedPrefixEngine(device=device)
    assert SharedPrefixEngine(device="cpu").device == torch.device("cpu")
    assert HFEngine(device="auto").device == torch.device("cuda")


@pytest.mark.parametrize("key", ENGINE_KEYS)
def test_every_engine_config_builds_its_engine(key, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    engine = make_engine(compose([f"engine={key}"]).engine)
    assert isinstance(engine, Engine) and engine.name == key
    assert engine.describe()["engine"] == key and engine.describe()["device"] == "cpu"


def test_default_engine_and_bad_engine_configs():
    assert set(ENGINE_KEYS) >= {"hf", "cpu_shared_prefix"}
    assert compose([]).engine._target_.endswith("SharedPrefixEngine")
    with pytest.raises(JouleError, match="engine.threads=2 with 2 workers"):
        make_engine(compose(["engine.workers=2", "engine.threads=2"]).engine)
    with pytest.raises(JouleError, match="engine._target_=builtins.dict is not"):
        make_engine(compose(["engine._target_=builtins.dict"]).engine)
    with pytest.raises(JouleError, match="engine._target_=evaluation.nope.Engine"):
        make_engine(compose(["engine._target_=evaluation.nope.Engine"]).engine)
    with pytest.raises(JouleError, match="engine.batch_size takes an integer >= 1, not 0"):
        make_engine(compose(["engine=hf", "engine.batch_size=0"]).engine)


def test_dvc_stages_depend_on_the_code_they_run():
    import yaml

    stages = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]
    for name in ("evaluate_base", "evaluate"):
        stage = stages[name].get("do", stages[name])
        assert "evaluation" in stage["deps"] and "train" not in stage["deps"]
        params = stage["params"]
        assert "engine._target_" in params and "eval" not in params
        assert not {"engine.batch_size", "engine.workers", "engine.threads", "engine"} & set(params)
    train = stages["train"]["do"]["deps"]
    assert "train" in train and not any(d.startswith("evaluation") for d in train)
