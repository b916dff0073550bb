"""The causal-LM training loss with the output head run only at labelled positions.

transformers' causal-LM models project every position onto the vocabulary (49,152 tokens for
SmolLM2) and take a float32 log-softmax over all of them; the loss then keeps only the positions
whose next token has a label. Instruction records are labelled on their answers only: 11% of the
tokens of the default `curated` curriculum (45% `synthetic_all`, 100% `raw`). The head is 21% of
SmolLM2-135M's matmul parameters, and the log-softmax forward and backward over every position
is a large share of a training step (docs/benchmarks.md, Training).

Why by hand: neither Trainer nor the model selects positions row by row (`logits_to_keep` keeps
the same positions in every row). The model runs as usual with `logits_to_keep=1` (its head on one
position per row, negligible) and returns its last hidden states, the head's input; this module
applies the head to the labelled positions only. Same loss as the model's own (tests), normalised
the same way: summed over labelled tokens, divided by `num_items_in_batch` (Trainer's count of
labelled tokens over the batch, all processes) or by the local count without it.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from transformers import Trainer

IGNORE = -100


def labelled_head_loss(model, inputs: dict, num_items_in_batch=None, head=None,
                       autocast=nullcontext) -> torch.Tensor:
    """Mean next-token cross-entropy over the labelled positions of `inputs` (input_ids, labels,
    position_ids, ...), with `head` (default: the model's output embeddings) computed under
    `autocast()` on those positions only."""
    inputs = dict(inputs)
    labels = inputs.pop("labels")
    outputs = model(**inputs, output_hidden_states=True, logits_to_keep=1)
    targets = labels[:, 1:]
    keep = targets != IGNORE
    hidden = outputs.hidden_states[-1][:, :-1][keep]        # position t predicts token t + 1
    head = head if head is not None else model.get_output_embeddings()
    with autocast():
        logits = head(hidden)
    total = torch.nn.functional.cross_entropy(logits.float(), targets[keep], reduction="sum")
    count = num_items_in_batch if num_items_in_batch is not None else keep.sum().clamp(min=1)
    return total / count


class LabelledHeadTrainer(Trainer):
    """transformers' Trainer, with the loss of `labelled_head_loss`.

    The loss is normalised by Trainer's `num_items_in_batch` as the model's own loss would be,
    so the rest of Trainer's bookkeeping (gradient accumulation, averaging tokens across
    processes) applies unchanged.
    """

    # `loss_is_scaled_for_ga` stays unset: Trainer's own rule (scaled when normalised by
    # `num_items_in_batch`) is what this loss does.

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if return_outputs:   # only asked for by evaluation inside Trainer, which we do not use
            raise NotImplementedError("LabelledHeadTrainer computes no full-vocabulary outputs")
        head = self.accelerator.unwrap_model(model).get_output_embeddings()
        loss = labelled_head_loss(model, inputs, num_items_in_batch, head,
                                  self.accelerator.autocast)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            # as Trainer.compute_loss for data parallelism (no tensor parallelism, no DataParallel
            # here): the count is global, the gradients are averaged over processes
            loss = loss * self.accelerator.num_processes
        return loss
