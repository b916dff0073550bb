"""Stage `base_model`: load the configured base model once and save it as a plain checkpoint.

`python -m pipeline.base_model [model=hf model.id_or_path=<dir or hub id>]` writes safetensors
weights, config and tokenizer (with its chat template) to `cfg.model.dir`, and
`<metrics_dir>/base_model.json` (parameters, time, energy). Dequantising the default GGUF takes
~20 s; later stages then load `from_pretrained(cfg.model.dir)` in about a second.
"""

from __future__ import annotations

from omegaconf import DictConfig

from joule.config import run
from joule.io import atomic_dir
from pipeline.stage import stage_run
from train.model import load_base, resolve_source, save_checkpoint


def main(cfg: DictConfig) -> None:
    where, gguf = resolve_source(cfg.model)  # fail on a bad source before opening the window
    with stage_run(cfg, "base_model") as run_:
        model, tokenizer = load_base(cfg.model)
        with atomic_dir(cfg.model.dir) as tmp:
            save_checkpoint(model, tokenizer, tmp)
        run_.metrics.update(
            model=str(cfg.model.name), source=str(cfg.model.source), loaded_from=where,
            gguf_file=gguf, dir=str(cfg.model.dir), dtype=str(cfg.model.dtype),
            architecture=type(model).__name__,
            parameters=sum(p.numel() for p in model.parameters()),
            vocab_size=len(tokenizer))
        run_.summary.update(wrote=cfg.model.dir, model=cfg.model.name,
                            parameters=run_.metrics["parameters"])


if __name__ == "__main__":
    run(main)
