"""A batch of prompts packed into one row, every shared prefix once: a prefill without padding.

Evaluation prompts share prefixes at two levels: every prompt starts with the same chat header,
system prompt and instruction (~40 tokens), and the questions on one passage share the passage
too (~200 tokens). Run as a left-padded batch, each row computes its whole prompt plus padding.
Packed as a tree, one row holds the batch-wide prefix once, then for each passage group the rest
of its prefix once followed by each question's own tokens; a token attends to its ancestors
(the prefixes it extends) and causally within its own segment, never to a sibling. The linear
layers see one (1 x N) input with no padding and nothing computed twice; attention
(`tree_attention`) runs a few SDPA calls per group, not one N x N matrix.

Each row's last prompt token is left out: generation starts from it, so generate() computes it
with the first decode step, from a left-padded batch KV cache gathered from the packed one
(`cache_index`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from transformers import DynamicCache

from train.kv_cache import ReservedCache


@dataclass(frozen=True)
class PromptTree:
    """One batch of prompts packed for a single prefill forward pass.

    ids, positions: (1, N) packed tokens and each token's position in its prompt(s).
    shared: the batch-wide common prefix occupies packed positions [0, shared).
    blocks: (start, mid, end, mask) per group: the group's own prefix [start, mid) attends
        causally to [0, shared) + itself; its prompts' tokens [mid, end) attend to keys
        [0, shared) + [start, end) where the bool mask (end - mid, shared + end - start) is True.
    cache_index: (rows, width) packed position of each of a row's prompt tokens but the last,
        right-aligned (left padding; padding slots point at position 0 and are masked by the
        caller's attention mask).
    chunks: the (group prefix length, prompt indices) packed, in order: the rows of
        `cache_index` are their prompts.
    """

    ids: torch.Tensor
    positions: torch.Tensor
    shared: int
    blocks: list[tuple[int, int, int, torch.Tensor]]
    cache_index: torch.Tensor
    chunks: list[tuple[int, list[int]]]


def common_prefix(a: list[int], b: list[int]) -> int:
    """Length of the longest common prefix of two token lists."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _prompts_mask(segments: list[int], shared: int) -> torch.Tensor:
    """Who the prompts' own tokens of one group see: segment 0 is the group's prefix, seen by
    every later token; segment k > 0 is the k-th prompt's own tokens, seen only by themselves
    (causally). Rows: the tokens of segments > 0; columns: the shared prefix, then the group."""
    seg = torch.tensor(segments)
    order = torch.arange(len(segments))
    causal = order[None, :] <= order[:, None]
    related = (seg[None, :] == 0) | (seg[None, :] == seg[:, None])
    mask = torch.cat([torch.ones(len(segments), shared, dtype=torch.bool), causal & related], 1)
    return mask[seg > 0]


def pack_prompts(prompts: list[list[int]], chunks: list[tuple[int, list[int]]]) -> PromptTree:
    """Pack the prompts of `chunks` ((group prefix length, prompt indices), the prompts of a
    chunk sharing that prefix, which is shorter than each of them) into one prefill row.

    Rows of `cache_index` follow the chunks' prompt order.
    """
    rows = [i for _, members in chunks for i in members]
    first = prompts[rows[0]]
    shared = min(prefix for prefix, _ in chunks)
    for i in rows[1:]:
        shared = min(shared, common_prefix(first, prompts[i]))
    ids, positions = list(first[:shared]), list(range(shared))
    blocks, row_tokens = [], {}
    for prefix, members in chunks:
        start = len(ids)
        head = prompts[members[0]][shared:prefix]
        ids += head
        mid = len(ids)
        positions += range(shared, prefix)
        segments = [0] * len(head)
        for k, i in enumerate(members, 1):
            tail = prompts[i][prefix:-1]
            row_tokens[i] = [*range(shared), *range(start, start + len(head)),
                             *range(len(ids), len(ids) + len(tail))]
            ids += tail
            positions += range(prefix, prefix + len(tail))
            segments += [k] * len(tail)
        if len(ids) > start:
            blocks.append((start, mid, len(ids), _prompts_mask(segments, shared)))
    width = max(len(prompts[i]) - 1 for i in rows)
    cache_index = torch.zeros((len(rows), width), dtype=torch.long)
    for r, i in enumerate(rows):
        tokens = row_tokens[i]
        if tokens:
            cache_index[r, width - len(tokens):] = torch.tensor(tokens)
    return PromptTree(torch.tensor([ids], dtype=torch.long),
                      torch.tensor([positions], dtype=torch.long), shared, blocks, cache_index,
                      chunks)


# Queries per SDPA call over a group's prefix (see tree_attention): ~200-token passages make
# 3-4 calls; 32 to 96 measured alike, 128 slower
PREFIX_CHUNK = 64


@functools.lru_cache(maxsize=256)   # one entry per (shared, prefix) length: masks of <~150 kB
def _prefix_query_chunks(shared: int, length: int, chunk: int
                   ) -> list[tuple[int, int, torch.Tensor]]:
    """(first, end, mask) per query chunk (at most `chunk` tokens, equal sizes) of a group
    prefix of `length` tokens that follows a shared prefix of `shared`: the chunk's tokens
    [first, end) (offsets into the group prefix) see the whole shared prefix and the group
    prefix up to themselves; the bool mask is (end - first, shared + end), one column per
    key."""
    n = -(-length // chunk)
    if not n:
        return []
    bounds = [length * i // n for i in range(n + 1)]
    chunks = []
    for first, end in zip(bounds, bounds[1:], strict=False):
        query = torch.arange(first, end)[:, None]
        key = torch.arange(shared + end)[None, :] - shared   # < 0: the shared prefix
        chunks.append((first, end, key <= query))
    return chunks


def attention_scores(tree: PromptTree) -> int:
    """Query x key pairs `tree_attention` computes for `tree`, per head and layer: the shared
    prefix's square, each group prefix's query chunks over the keys they see, and each group's
    prompt tokens over the shared prefix and the whole group (masked pairs included: the
    kernel computes them)."""
    c = tree.shared
    total = c * c
    for start, mid, end, _ in tree.blocks:
        total += sum((last - first) * (c + last) for first, last, _ in
                     _prefix_query_chunks(c, mid - start, PREFIX_CHUNK))
        total += (end - mid) * (c + end - start)
    return total


def tree_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                   tree: PromptTree, scaling: float | None) -> torch.Tensor:
    """Attention of a packed tree row; query/key/value (1, heads, N, head dim), output
    (1, N, heads, head dim).

    The shared prefix: one causal SDPA call. Per group, the group's prefix in chunks of
    `PREFIX_CHUNK` queries, each chunk one SDPA call over the shared prefix and the group prefix
    up to the chunk's end, with an explicit causal mask; then the prompts' own tokens with their
    own mask. Why chunks: torch's CPU flash kernel skips key blocks above the diagonal only past
    512 keys, so one causal call over a ~240-token prefix computes the whole square, masked half
    included (at 241 keys, bf16, 2 threads: causal 0.99 ms, full 0.98 ms); four chunks compute
    ~3/5 of it. Replayed on one layer's calls for the 7 batches of the 150-question benchmark
    (bf16, 1 thread, best of 5): 220 -> 168 ms; chunks of 32 to 96 queries all 167-175 ms,
    one masked call per prefix 201 ms (the old single causal call also recomputed the shared
    prefix's ~40 queries per group).
    One mask over the whole group computed the prefix x prompts block (nothing but masked
    scores) too: ~40% more attention work here.
    """
    sdpa = torch.nn.functional.scaled_dot_product_attention
    gqa = query.shape[1] != key.shape[1]
    out = torch.empty_like(query)
    c = tree.shared

    def with_shared(x: torch.Tensor, start: int, end: int) -> torch.Tensor:
        return torch.cat([x[:, :, :c], x[:, :, start:end]], dim=2) if c else x[:, :, start:end]

    if c:
        out[:, :, :c] = sdpa(query[:, :, :c], key[:, :, :c], value[:, :, :c], is_causal=True,
                             scale=scaling, enable_gqa=gqa)
    for start, mid, end, mask in tree.blocks:
        keys, values = with_shared(key, start, end), with_shared(value, start, end)
        for first, last, causal in _prefix_query_chunks(c, mid - start, PREFIX_CHUNK):
            seen = c + last
            out[:, :, start + first:start + last] = sdpa(
                query[:, :, start + first:start + last], keys[:, :, :seen],
                values[:, :, :seen], attn_mask=causal, scale=scaling, enable_gqa=gqa)
        if end > mid:
            out[:, :, mid:end] = sdpa(query[:, :, mid:end], keys, values, attn_mask=mask,
                                      scale=scaling, enable_gqa=gqa)
    return out.transpose(1, 2).contiguous()


def prefill_cache(model, tree: PromptTree, reserve: int) -> ReservedCache:
    """Run the packed prefill through `model` (loaded with `train.attention.ATTENTION`) and
    return the rows' left-padded batch KV cache, with room for `reserve` more tokens (each row's
    last prompt token and its answer but the final token)."""

    packed = DynamicCache()
    model(input_ids=tree.ids, position_ids=tree.positions, past_key_values=packed,
          use_cache=True, logits_to_keep=1, prompt_tree=tree)
    # (1, kv heads, N, head dim) -> (rows, kv heads, width, head dim): views of the gathered
    # tensors; ReservedCache copies them into its own buffers once
    rows = [(layer.keys[0][:, tree.cache_index].transpose(0, 1),
             layer.values[0][:, tree.cache_index].transpose(0, 1)) for layer in packed.layers]
    return ReservedCache(rows, reserve)
