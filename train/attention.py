"""Attention for packed training rows: one causal SDPA call per record instead of a masked row.

A packed row holds several records; `position_ids` restart at 0 where each record (and the row's
padding) begins. transformers' `sdpa` attention turns that into a block-diagonal mask over the
whole row, and with an explicit mask torch's CPU flash-attention kernel computes every block of
the row x row score matrix, forward and backward, the masked ones included. Run per record with
`is_causal=True`, the kernel computes only the record's own block (all of it: it skips key
blocks above the diagonal only past 512 keys): a row of 503 tokens in four records of ~125
computes ~1/4 of the masked row's scores (profile: docs/benchmarks.md, Training).

No library does this on CPU: the kernels that take packed rows with cumulative sequence lengths
(flash-attn, transformers' `_flash_attention_forward`) are CUDA-only. The function is
registered with transformers' AttentionInterface under `ATTENTION`, so a model loaded with
`attn_implementation="packed_sdpa"` uses it in every layer; what it computes is the masked row's
attention (tests compare the two). It splits rows only where nothing else needs masking: no
padding mask from the caller and no KV cache. Otherwise (generation, padded batches) the mask is
built and used exactly as for `sdpa`.
"""

from __future__ import annotations

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

ATTENTION = "packed_sdpa"


def record_bounds(position_ids: torch.Tensor) -> list[list[tuple[int, int]]]:
    """(start, end) token spans of the records of each row: a record starts where positions
    restart at 0 (and at the row's first token)."""
    bounds = []
    for row in position_ids:
        starts = [0] + [int(i) for i in torch.nonzero(row[1:] == 0).flatten() + 1]
        ends = starts[1:] + [row.shape[0]]
        bounds.append(list(zip(starts, ends, strict=True)))
    return bounds


def packed_causal_attention(module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                            attention_mask: torch.Tensor | None, dropout: float = 0.0,
                            scaling: float | None = None, position_ids: torch.Tensor | None = None,
                            **kwargs) -> tuple[torch.Tensor, None]:
    """Causal attention within each record of each row; query/key/value (batch, heads, tokens,
    head dim), output (batch, tokens, heads, head dim) as transformers' attention functions.

    With a mask (`packed_mask` builds one where the caller passed padding or a cache is in use),
    this is transformers' own `sdpa` attention.
    """
    if attention_mask is not None or key.shape[2] != query.shape[2]:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                      scaling=scaling, position_ids=position_ids, **kwargs)
    batch, tokens = query.shape[0], query.shape[2]
    if position_ids is None:
        position_ids = torch.arange(tokens, device=query.device)[None]
    position_ids = position_ids.expand(batch, -1)   # models pass (1, tokens) when unpacked
    gqa = query.shape[1] != key.shape[1]
    rows = []
    for r, spans in enumerate(record_bounds(position_ids)):
        pieces = [torch.nn.functional.scaled_dot_product_attention(
            query[r:r + 1, :, s:e], key[r:r + 1, :, s:e], value[r:r + 1, :, s:e],
            dropout_p=dropout, is_causal=True, scale=scaling, enable_gqa=gqa)
            for s, e in spans]
        rows.append(torch.cat(pieces, dim=2) if len(pieces) > 1 else pieces[0])
    out = torch.cat(rows, dim=0) if len(rows) > 1 else rows[0]
    return out.transpose(1, 2).contiguous(), None


def packed_mask(*, q_length: int, kv_length: int, attention_mask: torch.Tensor | None = None,
                q_offset: int = 0, **kwargs) -> torch.Tensor | None:
    """No mask where records are told apart by position ids alone (no padding mask from the
    caller, no cache: training); else the mask transformers builds for `sdpa`."""
    if attention_mask is None and q_length == kv_length and not q_offset:
        return None
    return sdpa_mask(q_length=q_length, kv_length=kv_length, attention_mask=attention_mask,
                     q_offset=q_offset, **kwargs)


AttentionInterface.register(ATTENTION, packed_causal_attention)
AttentionMaskInterface.register(ATTENTION, packed_mask)
