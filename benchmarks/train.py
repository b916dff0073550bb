"""Training throughput of LoRA on the base model, beside the dense matmul rate of this machine.

    python benchmarks/train.py [--model-dir data/base_model] [--steps 3] [--threads N]
                               [--variants default,fp32,8x256,gc,sdpa,dropout0.05,labelled0.11]

Figures, for each variant (batch shape and knobs), over `--steps` timed optimizer steps after one
warm-up step (forward + backward + AdamW step, packed rows as `pipeline.train` builds them):
- tokens/s: real (non-padding) tokens trained per second of wall time;
- achieved GFLOP/s: FLOPs counted with `joule.flops.lora_training_flops`,
      (4 * (N - H) + 6 * N_trainable) * tokens + 4 * H * labelled tokens,  N = matmul parameters
      (input embedding excluded when untied), H = the output head's, i.e. forward 2N, activation
      gradients 2N, adapter weight gradients, the head only where a label is (as training runs
      it, `train.head_loss`); attention's sequence term is not counted, so the figure is a lower
      bound of the work done;
- matmul GFLOP/s: torch.mm of two 2048x2048 matrices (2 * 2048^3 FLOPs each), best of 5, in the
  precision the variant's matmuls run in (bf16 under `train.mixed_precision=bf16`, else fp32),
  measured in the same process with the same thread count just before each variant (on a shared
  machine the rate drifts); the ratio is achieved / that matmul figure. The fp32 matmul rate is
  printed too, for comparison with fp32 training;
- ceiling: the same ratio if the step ran nothing but its counted matmuls, each timed alone at
  its own shape (`matmul_only_seconds`: 576-wide layers, rank-16 adapters, the head on the
  labelled rows), over a 2048^3 matmul timed right before them: the most any implementation
  of this step could reach with these kernels.
Under bf16 the step runs in `torch.autocast("cpu", bfloat16)`, as Trainer runs it. By default
every token is labelled (the head runs everywhere, as for `raw` text); `labelledP` labels the
last fraction P of each record, as instruction records are labelled on their answers (0.11 of
the default `curated` curriculum's tokens, 0.45 of `synthetic_all`'s). The default
model is SmolLM2-135M-Instruct with LoRA r=16 on all linear layers and the knobs of
`conf/train/lora.yaml`. Without `--model-dir` the base_model stage's checkpoint is used, or, when
it has not run, the GGUF is dequantised in memory (~20 s more).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from joule.config import compose  # noqa: E402
from joule.flops import head_params, lora_training_flops, matmul_params  # noqa: E402
from train.data import batch_tensors, plan_batches  # noqa: E402
from train.head_loss import labelled_head_loss  # noqa: E402
from train.loop import lora_model  # noqa: E402


def _best_seconds(fn, repeats: int = 3) -> float:
    """Shortest of `repeats` timed calls of `fn`, after one untimed warm-up call (seconds)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def matmul_gflops(n: int = 2048, repeats: int = 5, dtype: torch.dtype = torch.float32) -> float:
    """Best dense matmul rate over `repeats` runs of an n x n by n x n product (GFLOP/s)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    return 2 * n**3 / _best_seconds(lambda: torch.mm(a, b), repeats) / 1e9


def matmul_only_seconds(model, tokens: int, head_tokens: int, rank: int,
                        dtype: torch.dtype) -> float:
    """Seconds the step's counted matmuls take alone, each at its own shape: for every linear
    layer but the head the forward X W^T and the input gradient dY W over `tokens` rows, the
    rank-`rank` adapter's six products (forward, input and weight gradients), and the head's
    forward and input gradient over `head_tokens` rows. The FLOPs over this time are the most
    a step could reach if nothing else (attention, norms, activations, casts, optimizer) ran."""
    head = model.get_output_embeddings()
    shapes: dict[tuple[int, int, bool, bool], int] = {}
    for name, module in model.named_modules():
        # peft's adapters are Linear modules too: they are timed with the layer they adapt
        if isinstance(module, torch.nn.Linear) and "lora_" not in name:
            key = (module.in_features, module.out_features, module is head,
                   name.endswith("base_layer"))
            shapes[key] = shapes.get(key, 0) + 1
    total = 0.0
    for (n_in, n_out, is_head, adapted), count in shapes.items():
        rows = head_tokens if is_head else tokens
        x, w = torch.randn(rows, n_in, dtype=dtype), torch.randn(n_out, n_in, dtype=dtype)
        dy = torch.randn(rows, n_out, dtype=dtype)
        total += count * _best_seconds(lambda x=x, w=w, dy=dy: (x @ w.t(), dy @ w))
        if adapted:
            a, b = torch.randn(rank, n_in, dtype=dtype), torch.randn(n_out, rank, dtype=dtype)
            h = torch.randn(rows, rank, dtype=dtype)
            total += count * _best_seconds(
                lambda x=x, a=a, b=b, h=h, dy=dy: (x @ a.t(), h @ b.t(), dy @ b, h @ a,
                                                   h.t() @ x, dy.t() @ h))
    return total


def load(model_dir: Path | None, attn: str):
    from transformers import AutoModelForCausalLM

    import train.attention  # noqa: F401  (registers attn_implementation="packed_sdpa")
    from train.model import load_base

    cfg = compose()
    directory = model_dir or ROOT / str(cfg.model.dir)
    if (directory / "config.json").is_file():
        return AutoModelForCausalLM.from_pretrained(directory, attn_implementation=attn)
    model, _ = load_base(cfg.model)
    model.config._attn_implementation = attn
    return model


def packed_batch(vocab: int, rows: int, seq_len: int, seed: int = 0,
                 labelled: float = 1.0) -> tuple[dict, int]:
    """One batch of `rows` packed rows of random records (60-400 tokens), as training sees it,
    each labelled on its last `labelled` fraction, and its count of real (non-padding) tokens."""
    g = torch.Generator().manual_seed(seed)
    lengths: list[int] = []
    while sum(lengths) < rows * seq_len * 4:
        lengths.append(int(torch.randint(60, 400, (1,), generator=g)))
    examples = []
    for n in lengths:
        ids = torch.randint(0, vocab, (n,), generator=g).tolist()
        answer = max(1, round(labelled * n))
        examples.append((ids, [-100] * (n - answer) + ids[n - answer:]))
    plan = plan_batches(lengths, seq_len, rows, 8, [1.0])
    batch = max(plan.batches, key=len)   # a stretch's batches are balanced: take a full one
    return batch_tensors(batch, examples, pad_id=0), sum(c.size for row in batch for c in row)


def run_variant(model_dir: Path | None, rows: int, seq_len: int, steps: int, gc: bool,
                attn: str, tcfg, labelled: float = 1.0) -> dict:
    """Time `steps` LoRA optimizer steps on one packed batch of `rows` x `seq_len`."""
    model = load(model_dir, attn)
    n_params, n_head = matmul_params(model), head_params(model)
    model = lora_model(model, tcfg, seed=0)
    if gc:
        model.gradient_checkpointing_enable({"use_reentrant": False})
        model.enable_input_require_grads()
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in trainable)
    opt = torch.optim.AdamW(trainable, lr=1e-4)
    batch, real = packed_batch(model.config.vocab_size, rows, seq_len, labelled=labelled)
    head_tokens = int((batch["labels"][:, 1:] != -100).sum())

    bf16 = str(tcfg.mixed_precision) == "bf16"

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = labelled_head_loss(model, batch)   # as LabelledHeadTrainer computes it
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step()   # warm-up: allocator, thread pool
    t = time.perf_counter()
    for _ in range(steps):
        step()
    dt = (time.perf_counter() - t) / steps
    flops = lora_training_flops(n_params, n_trainable, real, n_head, head_tokens)
    dtype = torch.bfloat16 if bf16 else torch.float32
    # the matmuls run over every position of the batch, padding included
    positions = batch["input_ids"].numel()
    # the reference is timed again right beside the shapes: on a shared machine the rate drifts
    reference = matmul_gflops(dtype=dtype)
    mm_only = matmul_only_seconds(model, positions, head_tokens, int(tcfg.lora.r), dtype)
    return {"tokens_per_s": real / dt, "gflops": flops / dt / 1e9, "step_s": dt,
            "ceiling": flops / mm_only / 1e9 / reference,
            "tokens": real, "head_tokens": head_tokens,
            "shape": "x".join(map(str, batch["input_ids"].shape)),
            "n_params": n_params, "n_trainable": n_trainable, "n_head": n_head}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--variants", default="default,fp32,8x256,dropout0.05",
                        help="comma list: default (conf/train/lora.yaml), fp32 (default without "
                             "bf16 autocast), RxL (rows x seq len), gc (default + gradient "
                             "checkpointing), eager / sdpa / packed_sdpa (that attention), "
                             "dropoutP (default with LoRA dropout P), labelledP (default with "
                             "the last fraction P of each record labelled)")
    args = parser.parse_args()
    tcfg = compose().train
    if args.threads or tcfg.get("threads"):
        torch.set_num_threads(args.threads or int(tcfg.threads))
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads; FLOPs counted: (4 * (N - H) + "
          "6 * N_trainable) * tokens + 4 * H * labelled tokens (joule/flops.py)", flush=True)
    rows, seq = int(tcfg.rows_per_batch), int(tcfg.max_seq_len)
    print(f"{'variant':<12} {'batch':>7} {'precision':>9} {'tokens/s':>9} {'GFLOP/s':>8} "
          f"{'matmul':>7} {'ratio':>6} {'ceiling':>7} {'fp32 mm':>8} {'s/step':>7}")
    for name in args.variants.split(","):
        r, L, gc, attn = rows, seq, bool(tcfg.gradient_checkpointing), str(tcfg.attn_implementation)
        vcfg, labelled = tcfg, 1.0
        if name.startswith("labelled"):
            labelled = float(name[len("labelled"):])
        elif name.startswith("dropout"):
            vcfg = compose([f"train.lora.dropout={float(name[len('dropout'):])}"]).train
        elif name == "fp32":
            vcfg = compose(["train.mixed_precision=no"]).train
        elif "x" in name:
            r, L = (int(v) for v in name.split("x"))
        elif name == "gc":
            gc = True
        elif name in ("eager", "sdpa", "packed_sdpa"):
            attn = name
        elif name != "default":
            parser.error(f"unknown variant {name!r}")
        precision = "bf16" if str(vcfg.mixed_precision) == "bf16" else "fp32"
        fp32_matmul = matmul_gflops()
        matmul = matmul_gflops(dtype=torch.bfloat16) if precision == "bf16" else fp32_matmul
        res = run_variant(args.model_dir, r, L, args.steps, gc, attn, vcfg, labelled)
        print(f"{name:<12} {res['shape']:>7} {precision:>9} {res['tokens_per_s']:>9.1f} "
              f"{res['gflops']:>8.1f} {matmul:>7.1f} {res['gflops'] / matmul:>6.0%} "
              f"{res['ceiling']:>7.0%} "
              f"{fp32_matmul:>8.1f} {res['step_s']:>7.2f}", flush=True)
    print(f"N = {res['n_params']:,} matmul parameters (H = {res['n_head']:,} in the output head), "
          f"{res['n_trainable']:,} trainable (LoRA "
          f"r={tcfg.lora.r}, {tcfg.lora.target_modules})")


if __name__ == "__main__":
    main()
