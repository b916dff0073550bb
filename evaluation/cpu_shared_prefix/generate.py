"""Short greedy answers to many prompts at once: the generation half of evaluation.

Why it is shaped this way (SmolLM2-135M on 2 CPU cores; see benchmarks/evaluate.py):
- prompts are sorted by length and cut into batches, so a batch pads little; left padding keeps
  every prompt's last token at the end, where generation continues;
- generation stops per sequence at end of turn or at the first token that holds a newline (the
  answer is one line), and the whole batch stops when every row has stopped;
- a LoRA adapter is merged into a copy of the base weights before generating, so scoring a
  checkpoint costs exactly what scoring the base model costs (no adapter matmuls per layer);
- bfloat16 weights (`eval.dtype`) use the CPU's avx512_bf16 matmuls: 1.5 instead of 3.4
  CPU-seconds per XQuAD question here, same answers on a 16-question check; their layout is
  oneDNN's, reordered once (`packed_linear`), not on every matmul: a forward of 24
  one-token rows of SmolLM2-135M 52 -> 44 ms (1 thread), results bit-identical;
- a batch's prompts are prefilled as one packed tree (`prompt_tree`): the prefix common
  to every prompt (chat header, system prompt, instruction) once, each passage once, each
  question's own tokens, in one forward pass with no padding; prefill is most of the cost
  (~240 prompt tokens against ~16 new ones) and XQuAD asks ~5 questions per paragraph (the
  150-question sample: 90 passages). The rows' left-padded KV cache is gathered from it, with
  room reserved for the answer (`kv_cache`: no re-copy of the cache per step). 150 XQuAD
  questions in batches of 24: 19,333 of their 37,284 prompt tokens computed, no padding;
- batches are shared out among forked worker processes (`workers`; `eval.workers`, null:
  one per core), each on one torch thread; the workers take the costliest batch left first.
  Every op is an OpenMP parallel region ending in a barrier and a decode step is ~600 small ops:
  on this 2-core machine two one-thread workers beat one two-thread process in 6 of 8
  alternating benchmark pairs (medians 9.7 and 8.8 questions/s; README, benchmark table). On
  cores shared with other busy processes the barriers are worse still: the second thread is
  often descheduled and each barrier waits a scheduler time slice (~5 ms); with 2 threads on 2
  busy cores an M=16 bf16 matmul took 5.5 ms of CPU instead of 0.13 ms.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch

from evaluation.cpu_shared_prefix.heap import keep_freed_memory
from evaluation.cpu_shared_prefix.packed_linear import pack_linears
from evaluation.cpu_shared_prefix.prompt_tree import (
    PromptTree,
    attention_scores,
    common_prefix,
    pack_prompts,
    prefill_cache,
)
from evaluation.cpu_shared_prefix.workers import resolve, run_jobs
from train.attention import ATTENTION

_END_OF_TURN = "<|im_end|>"


@dataclass(frozen=True)
class Answer:
    """One generated answer: its first line (stripped) and what it cost, in tokens."""

    text: str
    prompt_tokens: int     # prompt length without padding
    new_tokens: int        # generated tokens, the stop token included
    # prompt tokens the model computed for this answer: the whole prompt, or with shared
    # prefixes its own tokens plus its share of each prefix it shares (the passage's among its
    # group's rows, the batch-wide prefix among the batch's rows); fractional
    computed_prompt_tokens: float = 0.0


def stop_token_ids(tokenizer) -> list[int]:
    """Ids that end an answer: end of turn / eos, and every token whose text holds a newline.

    A token like ".\\n" stops generation too; its text before the newline is kept, because
    answers are decoded with the stop token and cut at the first newline.
    """
    stops = set()
    if tokenizer.eos_token_id is not None:
        stops.add(int(tokenizer.eos_token_id))
    end_of_turn = tokenizer.convert_tokens_to_ids(_END_OF_TURN)
    if isinstance(end_of_turn, int) and end_of_turn != tokenizer.unk_token_id:
        stops.add(end_of_turn)
    texts = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
    stops.update(i for i, text in enumerate(texts) if "\n" in text)
    return sorted(stops)


def load_model(model_dir: str | Path, dtype: str = "float32", attn: str = ATTENTION):
    """The base model for generation: eval mode, KV cache on, `attn` attention kernels (the
    default runs the packed prefill of `prompt_tree`, and is `sdpa` otherwise)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        str(model_dir), dtype=getattr(torch, dtype), attn_implementation=attn)
    model.eval()
    return model


def for_generation(base, adapter_dir: str | Path | None = None, dtype: str | None = None):
    """A copy of `base`, with the peft adapter at `adapter_dir` merged in, cast to `dtype`.

    The base is deep-copied (not reloaded from disk) so that one load serves every checkpoint,
    and left unchanged so that the next checkpoint merges into clean weights. The merge happens
    in the base's own precision (float32) and only the merged weights are cast, so a bfloat16
    evaluation does not round the small LoRA update away before adding it.
    """
    model = copy.deepcopy(base)
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    if dtype is not None:
        model = model.to(getattr(torch, dtype))
    model.eval()
    pack_linears(model)  # bfloat16 on CPU only; bit-identical results (packed_linear)
    head = model.get_output_embeddings()
    if head is not None:
        head.register_forward_pre_hook(_contiguous_input)
    return model


def _contiguous_input(module, args):
    """Make the output head's input contiguous: a ~50x cheaper matmul per decode step.

    generate() feeds the head the last position's hidden states, a strided (batch, 1, hidden)
    slice. For a weight that needs no gradient (a merged adapter: peft freezes every weight),
    torch.matmul does not fold that slice into one (batch x hidden) mm; it broadcasts the
    49152 x 576 weight over the batch and copies it (a batch x 28M-element copy per step): 4.0
    instead of 6.5 questions/s for a fine-tuned checkpoint here.
    """
    return (args[0].contiguous(), *args[1:])


def _first_line(tokenizer, ids: list[int]) -> str:
    return tokenizer.decode(ids, skip_special_tokens=True).split("\n", 1)[0].strip()


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
    keep_freed_memory()  # glibc: no page fault per reused tensor page (cpu_shared_prefix.heap)
    stops = stop_token_ids(tokenizer) if stops is None else stops
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stops[0]
    if groups is not None and len(groups) != len(prompts):
        raise ValueError(f"{len(groups)} group keys for {len(prompts)} prompts")
    if groups is None:
        jobs = _plain_batches(prompts, batch_size)
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


def _config(max_new_tokens: int, stops: list[int], pad: int):
    from transformers import GenerationConfig

    return GenerationConfig(do_sample=False, num_beams=1, max_new_tokens=max_new_tokens,
                            eos_token_id=stops, pad_token_id=pad, use_cache=True)


def _answer(tokenizer, new: list[int], stop_set: set[int], prompt_tokens: int,
            computed: float) -> Answer:
    stop = next((k for k, t in enumerate(new) if t in stop_set), len(new) - 1)
    new = new[:stop + 1]
    return Answer(_first_line(tokenizer, new), prompt_tokens, len(new), computed)


def _cost(prefill_tokens: int, scores: int, rows: int, width: int, new_tokens: int) -> float:
    """Estimated time of a batch, in prefill tokens (it only orders the workers' jobs): each
    prefill token 1, attention's scores 1/2700 per query x key pair, and each decode step ~1/70
    per cached token of each row; a least-squares fit to 12 batches of the XQuAD benchmark here
    (one thread, within +-12%), made before weights were packed, group prefixes chunked and
    the prefill's attention written out (the fit saw each group's whole square of scores, and
    per-score costs have changed since): not refitted, as it only orders the jobs."""
    return prefill_tokens + scores / 2700 + rows * width * new_tokens / 70


def _plain_batches(prompts: list[list[int]], batch_size: int) -> list[list[int]]:
    """Prompt indices per batch, sorted by prompt length so that a batch pads little."""
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


class _PlainBatch:
    """Generates one batch of prompt indices as a left-padded batch: (index, Answer) pairs."""

    def __init__(self, model, tokenizer, prompts, max_new_tokens, stops, pad):
        self.model, self.tokenizer, self.prompts = model, tokenizer, prompts
        self.config, self.stop_set, self.pad = _config(max_new_tokens, stops, pad), set(stops), pad

    def cost(self, batch: list[int]) -> float:
        """`_cost` of the padded batch (the workers take the costliest first)."""
        width = max(len(self.prompts[i]) for i in batch)
        return _cost(len(batch) * width, len(batch) * width ** 2, len(batch), width,
                     self.config.max_new_tokens)

    def __call__(self, rows: list[int]) -> list[tuple[int, Answer]]:
        width = max(len(self.prompts[i]) for i in rows)
        ids, mask = _left_padded([self.prompts[i] for i in rows], width, self.pad)
        with torch.inference_mode():
            out = self.model.generate(input_ids=ids, attention_mask=mask,
                                      generation_config=self.config)
        done = []
        for r, i in enumerate(rows):
            n = len(self.prompts[i])
            done.append((i, _answer(self.tokenizer, out[r, width:].tolist(), self.stop_set, n,
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


def _left_padded(rows: list[list[int]], width: int, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        if row:
            ids[r, width - len(row):] = torch.tensor(row, dtype=torch.long)
            mask[r, width - len(row):] = 1
    return ids, mask


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
        ids, mask = _left_padded([self.prompts[i] for _, _, i in owner], width + 1, self.pad)
        with torch.inference_mode():
            cached = ({"past_key_values": prefill_cache(self.model, tree,
                                                        self.config.max_new_tokens)}
                      if tree.ids.shape[1] else {})
            out = self.model.generate(input_ids=ids, attention_mask=mask,
                                      generation_config=self.config, **cached)
        done = []
        for r, (prefix, members, i) in enumerate(owner):
            # own tokens, a share of the group's prefix, a share of the batch-wide prefix
            computed = (len(self.prompts[i]) - prefix + (prefix - tree.shared) / members
                        + tree.shared / len(owner))
            done.append((i, _answer(self.tokenizer, out[r, width + 1:].tolist(), self.stop_set,
                                    len(self.prompts[i]), computed)))
        return done


def _require_tree_attention(model) -> None:
    attention = model.config._attn_implementation
    if attention != ATTENTION:
        # any other attention would read the packed row as one causal sequence: every prompt
        # would see its siblings, silently
        raise ValueError(f"prompts with shared prefixes need a model loaded with "
                         f"attn_implementation={ATTENTION!r} (generate.load_model's "
                         f"default), not {attention!r}")


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
