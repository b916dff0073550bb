"""Short greedy answers to many prompts at once: the generation half of evaluation.

Why it is shaped this way (SmolLM2-135M on 2 CPU cores; see benchmarks/evaluate.py):
- prompts are sorted by length and cut into batches, so a batch pads little; left padding keeps
  every prompt's last token at the end, where generation continues;
- generation stops per sequence at end of turn or at the first token that holds a newline (the
  answer is one line), and the whole batch stops when every row has stopped;
- a LoRA adapter is merged into a copy of the base weights before generating, so scoring a
  checkpoint costs exactly what scoring the base model costs (no adapter matmuls per layer);
- bfloat16 weights (`eval.dtype`) use the CPU's avx512_bf16 matmuls: 1.5 instead of 3.4
  CPU-seconds per XQuAD question here, same answers on a 16-question check;
- generation runs on `threads` torch threads (`eval.threads`, default 1). Every op is an OpenMP
  parallel region ending in a barrier; when the cores are shared with other processes, the
  second thread is often descheduled and each barrier waits a scheduler time slice (~5 ms).
  A decode step is ~600 tiny ops, so with 2 threads on 2 busy cores an M=16 bf16 matmul took
  5.5 ms of CPU instead of 0.13 ms, and the XQuAD benchmark ran at 0.63 instead of 1.53 q/s.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

_END_OF_TURN = "<|im_end|>"


@dataclass(frozen=True)
class Answer:
    """One generated answer: its first line (stripped) and what it cost, in tokens."""

    text: str
    prompt_tokens: int     # prompt length without padding
    new_tokens: int        # generated tokens, the stop token included


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


def load_model(model_dir: str | Path, dtype: str = "float32", attn: str = "sdpa"):
    """The base model for generation: eval mode, KV cache on, `attn` attention kernels."""
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
    return model


def _first_line(tokenizer, ids: list[int]) -> str:
    return tokenizer.decode(ids, skip_special_tokens=True).split("\n", 1)[0].strip()


@contextmanager
def torch_threads(threads: int | None):
    """Run the block on `threads` intra-op torch threads (None: leave torch's setting alone)."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def generate_answers(model, tokenizer, prompts: list[list[int]], batch_size: int,
                     max_new_tokens: int, stops: list[int] | None = None,
                     threads: int | None = None) -> list[Answer]:
    """Greedy answers to token-id prompts, in the order given.

    Prompts are grouped by length into batches of `batch_size`, left-padded, and generated with
    the KV cache until every row has hit a stop token or `max_new_tokens`, on `threads` torch
    threads (None: torch's current setting).
    """
    with torch_threads(threads), torch.inference_mode():
        return _generate(model, tokenizer, prompts, batch_size, max_new_tokens, stops)


def _generate(model, tokenizer, prompts: list[list[int]], batch_size: int,
              max_new_tokens: int, stops: list[int] | None) -> list[Answer]:
    from transformers import GenerationConfig

    stops = stop_token_ids(tokenizer) if stops is None else stops
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stops[0]
    config = GenerationConfig(do_sample=False, num_beams=1, max_new_tokens=max_new_tokens,
                              eos_token_id=stops, pad_token_id=pad, use_cache=True)
    stop_set = set(stops)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    answers: list[Answer | None] = [None] * len(prompts)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        width = max(len(prompts[i]) for i in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, i in enumerate(rows):
            n = len(prompts[i])
            ids[r, width - n:] = torch.tensor(prompts[i], dtype=torch.long)
            mask[r, width - n:] = 1
        out = model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
        for r, i in enumerate(rows):
            new = out[r, width:].tolist()
            stop = next((k for k, t in enumerate(new) if t in stop_set), len(new) - 1)
            new = new[:stop + 1]
            answers[i] = Answer(_first_line(tokenizer, new), len(prompts[i]), len(new))
    return answers
