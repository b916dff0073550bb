"""The reference engine: transformers' `generate` on the configured device, in length-sorted,
left-padded batches. Any device transformers runs on; the GPU path (`engine=hf`)."""

from __future__ import annotations

import torch

from evaluation.common import (
    Answer,
    generation_config,
    left_padded,
    length_sorted_batches,
    pad_id,
    to_answer,
)
from evaluation.engine import Engine


class HFEngine(Engine):
    """Batches of `batch_size` prompts, sorted by length so that a batch pads little, left-padded
    so that every row continues from its last prompt token; greedy, each row stopping at its
    first stop token, the batch when every row has stopped. Model and inputs on `device`."""

    name = "hf"

    def generate(self, model, prompts: list[list[int]], max_new_tokens: int,
                 groups: list | None = None) -> list[Answer]:
        self._require_loaded()
        if groups is not None and len(groups) != len(prompts):
            raise ValueError(f"{len(groups)} group keys for {len(prompts)} prompts")
        config = generation_config(max_new_tokens, self.stops, pad_id(self.tokenizer, self.stops))
        stop_set = set(self.stops)
        answers: list[Answer | None] = [None] * len(prompts)
        for rows in length_sorted_batches(prompts, self.batch_size):
            width = max(len(prompts[i]) for i in rows)
            ids, mask = left_padded([prompts[i] for i in rows], width, config.pad_token_id)
            with torch.inference_mode():
                out = model.generate(input_ids=ids.to(self.device),
                                     attention_mask=mask.to(self.device),
                                     generation_config=config)
            out = out[:, width:].tolist()
            for r, i in enumerate(rows):
                n = len(prompts[i])
                answers[i] = to_answer(self.tokenizer, out[r], stop_set, n, float(n))
        return answers
