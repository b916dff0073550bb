"""FLOPs as a hardware-independent cost beside joules, counted from parameters and tokens.

Standard dense-transformer estimates (Kaplan et al. 2020), ignoring attention's sequence term:
- inference (forward only): 2 * N * tokens
- full training (forward + backward): 6 * N * tokens
- LoRA training: the backward pass still propagates activation gradients through every frozen
  weight (2N per token) but computes weight gradients only for the adapters, so
  4 * N * tokens + 6 * N_trainable * tokens; training runs the output head (H of the N
  parameters) only on the positions that have a label (`train.head_loss`), so its share is
  4 * H * labelled tokens instead of 4 * H * tokens.
N is the number of parameters of the model excluding the input embedding table (a lookup, not a
matmul); with tied input/output embeddings the output projection is counted once.
"""

from __future__ import annotations


def inference_flops(n_params: int, tokens: int) -> int:
    """FLOPs of a forward pass over `tokens` tokens."""
    return 2 * int(n_params) * int(tokens)


def lora_training_flops(n_params: int, n_trainable: int, tokens: int, head_params: int = 0,
                        head_tokens: int | None = None) -> int:
    """FLOPs of LoRA training over `tokens` tokens (frozen base, trainable adapters), the output
    head (`head_params` of `n_params`) run on `head_tokens` of them (default: all)."""
    head_tokens = tokens if head_tokens is None else head_tokens
    body = int(n_params) - int(head_params)
    return (4 * body + 6 * int(n_trainable)) * int(tokens) + 4 * int(head_params) * int(head_tokens)


def head_params(model) -> int:
    """Parameters of the output head (the vocabulary projection), 0 if the model has none."""
    head = model.get_output_embeddings()
    return head.weight.numel() if head is not None else 0


def matmul_params(model) -> int:
    """Parameters that take part in matmuls: all, minus the input embedding if it is not tied."""
    total = sum(p.numel() for p in model.parameters())
    emb = model.get_input_embeddings().weight
    out = model.get_output_embeddings()
    tied = out is not None and out.weight.data_ptr() == emb.data_ptr()
    return total if tied else total - emb.numel()
