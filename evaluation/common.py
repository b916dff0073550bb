"""What every generation engine shares: the answer record, stop tokens, loading the base model,
merging a checkpoint's LoRA adapter, left padding, and cutting an answer at its first line."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch

from joule.errors import JouleError

_END_OF_TURN = "<|im_end|>"


@dataclass(frozen=True)
class Answer:
    """One generated answer: its first line (stripped) and what it cost, in tokens."""

    text: str
    prompt_tokens: int     # prompt length without padding
    new_tokens: int        # generated tokens, the stop token included
    # prompt tokens the model computed for this answer: the whole prompt, or with shared
    # prefixes its own tokens plus its share of each prefix it shares; fractional
    computed_prompt_tokens: float = 0.0


def resolve_device(device: str | None) -> torch.device:
    """The torch device of an engine's `device` setting: `auto` (or None) is CUDA where torch
    sees a GPU, else the CPU; `cpu`, `cuda` and `cuda:N` are taken as asked, and asking for CUDA
    where torch sees none is a JouleError (never a silent fall back to the CPU)."""
    name = "auto" if device is None else str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(name)
    except RuntimeError as exc:
        raise JouleError(f"engine.device={name!r} is not a device (auto, cpu, cuda, "
                         f"cuda:N)") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise JouleError(f"engine.device={name!r}, but torch sees no CUDA device "
                         f"(torch {torch.__version__}, built for CUDA "
                         f"{torch.version.cuda or 'none'}); use engine.device=cpu or auto")
    if resolved.type not in ("cpu", "cuda"):
        raise JouleError(f"engine.device={name!r}: only cpu and cuda are supported")
    return resolved


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


def load_model(model_dir: str | Path, dtype: str = "float32", attn: str = "sdpa",
               device: torch.device | str = "cpu"):
    """The base model for generation, on `device`: eval mode, `attn` attention kernels."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        str(model_dir), dtype=getattr(torch, dtype), attn_implementation=attn)
    model.to(device)
    model.eval()
    return model


def for_generation(base, adapter_dir: str | Path | None = None, dtype: str | None = None):
    """A copy of `base` (on base's device), the peft adapter at `adapter_dir` merged in, cast to
    `dtype`.

    Deep-copied, not reloaded, so one load serves every checkpoint and the base stays clean for
    the next merge. The merge happens in the base's precision (float32) and only the merged
    weights are cast, so bfloat16 does not round the small LoRA update away before adding it.
    Merged, a checkpoint costs per token exactly what the base model costs.
    """
    model = copy.deepcopy(base)
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    if dtype is not None:
        model = model.to(getattr(torch, dtype))
    model.eval()
    head = model.get_output_embeddings()
    if head is not None:
        head.register_forward_pre_hook(_contiguous_input)
    return model


def _contiguous_input(module, args):
    """Make the output head's input contiguous: generate() feeds it a strided (batch, 1, hidden)
    slice, which torch.matmul, for a weight without gradient (a merged adapter), multiplies by
    broadcasting and copying the whole weight per row (~50x slower a step on CPU)."""
    return (args[0].contiguous(), *args[1:])


def first_line(tokenizer, ids: list[int]) -> str:
    """The decoded text of `ids` up to its first newline, stripped."""
    return tokenizer.decode(ids, skip_special_tokens=True).split("\n", 1)[0].strip()


def to_answer(tokenizer, new: list[int], stop_set: set[int], prompt_tokens: int,
              computed: float) -> Answer:
    """The Answer of generated ids `new`: cut after the first stop token (padding after it
    is dropped), its first line as text."""
    stop = next((k for k, t in enumerate(new) if t in stop_set), len(new) - 1)
    new = new[:stop + 1]
    return Answer(first_line(tokenizer, new), prompt_tokens, len(new), computed)


def generation_config(max_new_tokens: int, stops: list[int], pad: int):
    """Greedy decoding with the KV cache, stopping per row at any of `stops`."""
    from transformers import GenerationConfig

    return GenerationConfig(do_sample=False, num_beams=1, max_new_tokens=max_new_tokens,
                            eos_token_id=stops, pad_token_id=pad, use_cache=True)


def pad_id(tokenizer, stops: list[int]) -> int:
    """The tokenizer's pad token, else the first stop token (masked out either way)."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stops[0]


def length_sorted_batches(prompts: list[list[int]], batch_size: int) -> list[list[int]]:
    """Prompt indices per batch, sorted by prompt length so that a batch pads little."""
    if batch_size < 1:
        raise JouleError(f"engine.batch_size={batch_size} must be at least 1")
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def left_padded(rows: list[list[int]], width: int, pad: int
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, attention mask), each (rows, width) int64: every row right-aligned, so its last
    prompt token is where generation continues."""
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        if row:
            ids[r, width - len(row):] = torch.tensor(row, dtype=torch.long)
            mask[r, width - len(row):] = 1
    return ids, mask
