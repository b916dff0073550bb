"""The CPU shared-prefix engine (`engine=cpu_shared_prefix`): short greedy answers to many prompts
with the prompts' shared prefixes computed once, on CPU worker processes.

Why each part (figures: docs/benchmarks.md, Evaluation):
- a batch's prompts are prefilled as one packed tree (`prompt_tree`): the prefix common to every
  prompt (chat header, instruction) once, each passage once, each question's own tokens, in one
  forward with no padding; prefill is most of the cost (~240 prompt tokens per ~16 new ones);
- bfloat16 weights are reordered once into oneDNN's layout (`packed_linear`): faster decode
  steps, bit-identical results;
- batches are shared out among forked one-thread workers (`workers`): a decode step is ~600 small
  OpenMP regions whose barriers waste a second thread; forking is CPU-only, so this engine
  refuses CUDA (`engine=hf` is the GPU path).
Answers are those of `engine=hf` up to float rounding (tests compare them).
"""

from __future__ import annotations

from pathlib import Path

import torch

from evaluation.common import (
    Answer,
    generation_config,
    left_padded,
    length_sorted_batches,
    pad_id,
    stop_token_ids,
    to_answer,
)
from evaluation.cpu_shared_prefix.attention import ATTENTION
from evaluation.cpu_shared_prefix.packed_linear import pack_linears
from evaluation.cpu_shared_prefix.prompt_tree import (
    PromptTree,
    attention_scores,
    common_prefix,
    pack_prompts,
    prefill_cache,
)
from evaluation.cpu_shared_prefix.workers import resolve, run_jobs
from evaluation.engine import Engine
from joule.errors import JouleError


class SharedPrefixEngine(Engine):
    """`generate_answers` behind the Engine interface: the model loaded with the prompt-tree
    attention, bfloat16 weights packed for oneDNN, `workers` forked processes (None: one per
    usable core) on `threads` torch threads each (None: torch's setting with one worker, 1 with
    several). CPU only: a `device` that resolves to CUDA is a JouleError."""

    name = "cpu_shared_prefix"
    attention = ATTENTION

    def __init__(self, device: str = "auto", batch_size: int = 24, workers: int | None = None,
                 threads: int | None = None):
        super().__init__(device=device, batch_size=batch_size)
        if self.device.type != "cpu":
            raise JouleError(f"engine=cpu_shared_prefix runs on the CPU only (forked workers, "
                             f"oneDNN weights), and engine.device resolved to {self.device}: "
                             f"use engine=hf on a GPU, or engine.device=cpu")
        self.workers, self.threads = workers, threads
        try:   # a bad workers/threads pair fails before any model loads
            resolve(workers, threads)
        except ValueError as exc:
            raise JouleError(str(exc)) from exc

    def prepare(self, adapter: str | Path | None = None, dtype: str | None = None):
        model = super().prepare(adapter, dtype)
        pack_linears(model)   # bfloat16 on CPU only; bit-identical results
        return model

    def generate(self, model, prompts: list[list[int]], max_new_tokens: int,
                 groups: list | None = None) -> list[Answer]:
        self._require_loaded()
        return generate_answers(model, self.tokenizer, prompts, self.batch_size, max_new_tokens,
                                stops=self.stops, threads=self.threads, groups=groups,
                                workers=self.workers)

    def describe(self) -> dict:
        workers, threads = resolve(self.workers, self.threads)
        return {**super().describe(), "workers": workers,
                "threads": threads or torch.get_num_threads()}


def generate_answers(model, tokenizer, prompts: list[list[int]], batch_size: int,
                     max_new_tokens: int, stops: list[int] | None = None,
                     threads: int | None = None, groups: list | None = None,
                     workers: int | None = 1) -> list[Answer]:
    """Greedy answers to token-id prompts, in the order given.

    Prompts are grouped by length into batches of `batch_size`, left-padded, and generated with
    the KV cache until every row has hit a stop token or `max_new_tokens`. With `groups` (one
    hashable key per prompt, e.g. the passage), prompts with the same key share the cache of
    their common token prefix. Batches are shared out among `workers` processes
    (`workers`; None: one per usable core where the platform can fork, else 1), each on
    one torch thread; one worker runs on `threads` (None: torch's current setting).
    """
    stops = stop_token_ids(tokenizer) if stops is None else stops
    pad = pad_id(tokenizer, stops)
    if groups is not None and len(groups) != len(prompts):
        raise ValueError(f"{len(groups)} group keys for {len(prompts)} prompts")
    if groups is None:
        jobs = length_sorted_batches(prompts, batch_size)
        run = _PlainBatch(model, tokenizer, prompts, max_new_tokens, stops, pad)
    else:
        _require_tree_attention(model)
        _require_full_attention(model, max(map(len, prompts), default=0) + max_new_tokens)
        jobs = [pack_prompts(prompts, batch) for batch in
                _shared_batches(prompts, groups, batch_size)]
        run = _SharedBatch(model, tokenizer, prompts, max_new_tokens, stops, pad)
    workers, threads = resolve(workers, threads, len(jobs))
    costs = [run.cost(job) for job in jobs]
    answers: list[Answer | None] = [None] * len(prompts)
    for done in run_jobs(run, jobs, costs, workers, threads):
        for i, answer in done:
            answers[i] = answer
    return answers


def _cost(prefill_tokens: int, scores: int, rows: int, width: int, new_tokens: int) -> float:
    """Estimated time of a batch, in prefill tokens; it only orders the workers' jobs (costliest
    first). Each prefill token 1, each query x key score 1/2700, each cached token of each row
    1/70 per decode step: a least-squares fit to 12 benchmark batches (docs/benchmarks.md)."""
    return prefill_tokens + scores / 2700 + rows * width * new_tokens / 70


class _PlainBatch:
    """Generates one batch of prompt indices as a left-padded batch: (index, Answer) pairs."""

    def __init__(self, model, tokenizer, prompts, max_new_tokens, stops, pad):
        self.model, self.tokenizer, self.prompts = model, tokenizer, prompts
        self.config = generation_config(max_new_tokens, stops, pad)
        self.stop_set, self.pad = set(stops), pad

    def cost(self, batch: list[int]) -> float:
        """`_cost` of the padded batch (the workers take the costliest first)."""
        width = max(len(self.prompts[i]) for i in batch)
        return _cost(len(batch) * width, len(batch) * width ** 2, len(batch), width,
                     self.config.max_new_tokens)

    def __call__(self, rows: list[int]) -> list[tuple[int, Answer]]:
        width = max(len(self.prompts[i]) for i in rows)
        ids, mask = left_padded([self.prompts[i] for i in rows], width, self.pad)
        with torch.inference_mode():
            out = self.model.generate(input_ids=ids, attention_mask=mask,
                                      generation_config=self.config)
        done = []
        for r, i in enumerate(rows):
            n = len(self.prompts[i])
            done.append((i, to_answer(self.tokenizer, out[r, width:].tolist(), self.stop_set, n,
                                    float(n))))
        return done


def _shared_batches(prompts: list[list[int]], groups: list, batch_size: int
                    ) -> list[list[tuple[int, list[int]]]]:
    """Batches of (prefix length, prompt indices): whole groups, at most `batch_size` rows each.

    A group's prefix is the token prefix all its prompts share, less at least one token per
    prompt (generation needs a last prompt token to start from). A group larger than a batch is
    cut into chunks that each compute the prefix. Chunks are sorted by prefix length so that a
    batch's rows have similar prompt lengths: the decode cache is left-padded to the longest.
    """
    by_key: dict = {}
    for i, key in enumerate(groups):
        by_key.setdefault(key, []).append(i)
    chunks = []
    for members in by_key.values():
        for start in range(0, len(members), batch_size):
            rows = members[start:start + batch_size]
            first = prompts[rows[0]]
            prefix = min(len(prompts[i]) - 1 for i in rows)
            for i in rows[1:]:
                prefix = min(prefix, common_prefix(first, prompts[i]))
            chunks.append((prefix, rows))
    chunks.sort(key=lambda c: (c[0], c[1][0]))
    batches, current, size = [], [], 0
    for prefix, rows in chunks:
        if current and size + len(rows) > batch_size:
            batches.append(current)
            current, size = [], 0
        current.append((prefix, rows))
        size += len(rows)
    if current:
        batches.append(current)
    return batches


class _SharedBatch(_PlainBatch):
    """Generates one batch packed as a prompt tree (`prompt_tree`): (index, Answer) pairs.

    The prefix common to every prompt once, each group's prefix once, each prompt's own tokens
    but the last, all in one forward pass without padding; the rows' left-padded KV cache is
    gathered from it, and generate() continues from that cache, computing each row's last
    prompt token as its first step. Each row attends to exactly its own prompt.
    """

    def cost(self, tree: PromptTree) -> float:
        rows, width = tree.cache_index.shape
        return _cost(tree.ids.shape[1], attention_scores(tree), rows, width + 1,
                     self.config.max_new_tokens)

    def __call__(self, tree: PromptTree) -> list[tuple[int, Answer]]:
        owner = [(prefix, len(rows), i) for prefix, rows in tree.chunks for i in rows]
        width = tree.cache_index.shape[1]
        ids, mask = left_padded([self.prompts[i] for _, _, i in owner], width + 1, self.pad)
        with torch.inference_mode():
            cached = ({"cache": prefill_cache(self.model, tree)}
                      if tree.ids.shape[1] else {})
            out = self.model.generate(input_ids=ids, attention_mask=mask,
                                      generation_config=self.config, **cached)
        done = []
        for r, (prefix, members, i) in enumerate(owner):
            # own tokens, a share of the group's prefix, a share of the batch-wide prefix
            computed = (len(self.prompts[i]) - prefix + (prefix - tree.shared) / members
                        + tree.shared / len(owner))
            done.append((i, to_answer(self.tokenizer, out[r, width + 1:].tolist(), self.stop_set,
                                    len(self.prompts[i]), computed)))
        return done


def _require_tree_attention(model) -> None:
    attention = model.config._attn_implementation
    if attention != ATTENTION:
        # any other attention would read the packed row as one causal sequence: every prompt
        # would see its siblings, silently
        raise ValueError(f"prompts with shared prefixes need a model loaded with "
                         f"attn_implementation={ATTENTION!r} (SharedPrefixEngine.load), "
                         f"not {attention!r}")


def sliding_window(config) -> int | None:
    """The attention window of a model config, in tokens, if any of its layers attends within
    one (Mistral's `sliding_window`; Qwen2's only with `use_sliding_window`; models with
    `layer_types` only where a layer is "sliding_attention"), else None."""
    window = getattr(config, "sliding_window", None)
    if not window or getattr(config, "use_sliding_window", True) is False:
        return None
    layer_types = getattr(config, "layer_types", None)
    if layer_types is not None and "sliding_attention" not in layer_types:
        return None
    return int(window)


def _require_full_attention(model, tokens: int) -> None:
    """The packed prefill and its gathered cache attend to every earlier token of a prompt:
    for a model with a sliding window that is its own attention only while prompt and answer
    fit in the window. Past it, the answers would differ from the model's, silently."""
    window = sliding_window(model.config)
    if window is not None and tokens > window:
        raise ValueError(f"prompts with shared prefixes: the model attends within a sliding "
                         f"window of {window} tokens, which prompt_tree does not "
                         f"apply, and the longest prompt plus max_new_tokens is {tokens} "
                         f"tokens; ask without groups (eval.mode=closed_book) or shorten the "
                         f"prompts")
