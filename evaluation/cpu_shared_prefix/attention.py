"""The attention that runs a packed prompt tree: registered with transformers' AttentionInterface
as "prompt_tree_sdpa", so a model loaded with that `attn_implementation` computes a forward that
is passed `prompt_tree=<PromptTree>` with `tree_attention` in every layer, and every other
forward (decode steps, plain batches) exactly as `sdpa`."""

from __future__ import annotations

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from evaluation.cpu_shared_prefix.prompt_tree import PromptTree, tree_attention

ATTENTION = "prompt_tree_sdpa"


def prompt_tree_attention(module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                          attention_mask: torch.Tensor | None, dropout: float = 0.0,
                          scaling: float | None = None, prompt_tree: PromptTree | None = None,
                          **kwargs) -> tuple[torch.Tensor, None]:
    """query/key/value (batch, heads, tokens, head dim) -> (batch, tokens, heads, head dim), as
    transformers' attention functions: the tree's attention where the forward passed
    `prompt_tree` (the mask is then ignored: the tree is the mask), else transformers' sdpa."""
    if prompt_tree is not None:
        return tree_attention(query, key, value, prompt_tree, scaling), None
    return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                  scaling=scaling, **kwargs)


AttentionInterface.register(ATTENTION, prompt_tree_attention)
# the masks sdpa builds (none for the tree's prefill: no padding, no cached tokens)
AttentionMaskInterface.register(ATTENTION, sdpa_mask)
