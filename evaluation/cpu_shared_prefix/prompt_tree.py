"""A batch of prompts packed into one row, every shared prefix once: a prefill without padding.

Evaluation prompts share prefixes at two levels: every prompt starts with the same chat header,
system prompt and instruction (~40 tokens), and the questions on one passage share the passage
too (~200 tokens). Run as a left-padded batch, each row computes its whole prompt plus padding.
Packed as a tree, one row holds the batch-wide prefix once, then for each passage group the rest
of its prefix once followed by each question's own tokens; a token attends to its ancestors
(the prefixes it extends) and causally within its own segment, never to a sibling. The linear
layers see one (1 x N) input with no padding and nothing computed twice; attention
(`tree_attention`) runs a few calls per group, not one N x N matrix.

Each row's last prompt token is left out: generation starts from it, so generate() computes it
with the first decode step, from a left-padded batch KV cache gathered from the packed one
(`cache_index`).
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from transformers import DynamicCache


@dataclass(frozen=True)
class PromptTree:
    """One batch of prompts packed for a single prefill forward pass.

    ids, positions: (1, N) packed tokens and each token's position in its prompt(s).
    shared: the batch-wide common prefix occupies packed positions [0, shared).
    blocks: (start, mid, end, bias) per group: the group's own prefix [start, mid) attends
        causally to [0, shared) + itself; its prompts' tokens [mid, end) attend to keys
        [0, shared) + [start, end) where the additive float32 bias (end - mid,
        shared + end - start) is 0 (-inf elsewhere; built once here, used by every layer).
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


def _bias(allowed: torch.Tensor) -> torch.Tensor:
    """The additive float32 mask of a bool one: 0 where attention is allowed, -inf elsewhere."""
    return torch.zeros(allowed.shape).masked_fill_(~allowed, float("-inf"))


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
            blocks.append((start, mid, len(ids), _bias(_prompts_mask(segments, shared))))
    width = max(len(prompts[i]) - 1 for i in rows)
    cache_index = torch.zeros((len(rows), width), dtype=torch.long)
    for r, i in enumerate(rows):
        tokens = row_tokens[i]
        if tokens:
            cache_index[r, width - len(tokens):] = torch.tensor(tokens)
    return PromptTree(torch.tensor([ids], dtype=torch.long),
                      torch.tensor([positions], dtype=torch.long), shared, blocks, cache_index,
                      chunks)


# Queries per attention call over a group's prefix (see tree_attention): ~200-token passages make
# 3-4 calls
PREFIX_CHUNK = 64


@functools.lru_cache(maxsize=256)   # one entry per (shared, prefix) length: masks of <~300 kB
def _prefix_query_chunks(shared: int, length: int, chunk: int
                   ) -> list[tuple[int, int, torch.Tensor]]:
    """(first, end, bias) per query chunk (at most `chunk` tokens, equal sizes) of a group
    prefix of `length` tokens that follows a shared prefix of `shared`: the chunk's tokens
    [first, end) (offsets into the group prefix) see the whole shared prefix and the group
    prefix up to themselves; the additive float32 bias is (end - first, shared + end), one
    column per key."""
    n = -(-length // chunk)
    if not n:
        return []
    bounds = [length * i // n for i in range(n + 1)]
    chunks = []
    for first, end in zip(bounds, bounds[1:], strict=False):
        query = torch.arange(first, end)[:, None]
        key = torch.arange(shared + end)[None, :] - shared   # < 0: the shared prefix
        chunks.append((first, end, _bias(key <= query)))
    return chunks


@functools.lru_cache(maxsize=64)
def _causal_bias(length: int) -> torch.Tensor:
    return _bias(torch.ones(length, length, dtype=torch.bool).tril())


def attention_scores(tree: PromptTree) -> int:
    """Query x key pairs `tree_attention` computes for `tree`, per head and layer: the shared
    prefix's square, each group prefix's query chunks over the keys they see, and each group's
    prompt tokens over the shared prefix and the whole group (masked pairs included: they are
    computed, then masked)."""
    c = tree.shared
    total = c * c
    for start, mid, end, _ in tree.blocks:
        total += sum((last - first) * (c + last) for first, last, _ in
                     _prefix_query_chunks(c, mid - start, PREFIX_CHUNK))
        total += (end - mid) * (c + end - start)
    return total


def _attend(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, bias: torch.Tensor,
            scale: float) -> torch.Tensor:
    """Softmax attention written out: query (heads, Q, dim), key and value (kv heads, K, dim),
    `bias` (Q, K) float32 added to the scaled scores; returns (heads, Q, dim) in value's dtype.

    The query heads that share a kv head (grouped-query attention) form one matrix, so each kv
    head is one matmul; scores and softmax are float32 (key comes in as float32), the
    probabilities are cast to value's dtype for the second matmul, as torch's CPU flash kernel
    does.
    """
    heads, length, dim = query.shape
    kv_heads, keys = key.shape[0], key.shape[1]
    group = heads // kv_heads
    # float32, and laid out so that a kv head's query heads are one (group x length) matrix:
    # one copy however `query` is strided
    grouped = query.new_empty((kv_heads, group * length, dim), dtype=torch.float32)
    grouped.view(kv_heads, group, length, dim).copy_(query.view(kv_heads, group, length, dim))
    scores = torch.bmm(grouped, key.transpose(1, 2)).view(kv_heads, group, length, keys)
    scores = torch.add(bias, scores, alpha=scale)
    probs = torch.softmax(scores, -1).to(value.dtype).view(kv_heads, group * length, keys)
    return torch.bmm(probs, value).view(heads, length, dim)


@contextmanager
def _bfloat16_products(dtype: torch.dtype):
    """Let oneDNN compute float32 matmuls with bfloat16 products and float32 sums while the
    model is bfloat16: the float32 operands of `_attend`'s score matmul are upcast bfloat16
    values, so rounding them back is exact, and the sums and scores stay float32 (half the time
    of a float32 product, same error: docs/benchmarks.md). Left alone for any other dtype."""
    if dtype != torch.bfloat16:
        yield
        return
    matmul = torch.backends.mkldnn.matmul
    before = matmul.fp32_precision
    matmul.fp32_precision = "bf16"
    try:
        yield
    finally:
        matmul.fp32_precision = before


def tree_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                   tree: PromptTree, scaling: float | None) -> torch.Tensor:
    """Attention of a packed tree row; query/key/value (1, heads, N, head dim), output
    (1, N, heads, head dim).

    The shared prefix: one causal call. Per group, the group's prefix in chunks of
    `PREFIX_CHUNK` queries, each chunk one call over the shared prefix and the group prefix
    up to the chunk's end, causally masked; then the prompts' own tokens over the shared prefix
    and the whole group, with the group's mask (a prompt sees the prefixes and itself, not its
    siblings). Chunks compute ~3/5 of a ~240-token prefix's square, where one causal call
    computes all of it (masked half included) and recomputed the shared prefix per group.

    Each call is `_attend`, a written-out softmax attention with float32 scores: at these
    shapes about twice as fast as torch's CPU flash kernel, same error (docs/benchmarks.md,
    Evaluation). Chunks of `PREFIX_CHUNK` queries: the fastest of those tried.
    """
    scale = query.shape[-1] ** -0.5 if scaling is None else scaling
    heads, length, dim = query.shape[1:]
    out = query.new_empty((1, length, heads, dim))   # the layout the caller wants
    c = tree.shared
    keys_f32 = key[0].float()   # the score matmuls' operand, converted once per layer

    def with_shared(x: torch.Tensor, start: int, end: int) -> torch.Tensor:
        return torch.cat([x[:, :c], x[:, start:end]], dim=1) if c else x[:, start:end]

    with _bfloat16_products(query.dtype):
        if c:
            out[0, :c] = _attend(query[0, :, :c], keys_f32[:, :c], value[0, :, :c],
                                 _causal_bias(c), scale).transpose(0, 1)
        for start, mid, end, prompts_bias in tree.blocks:
            keys, values = with_shared(keys_f32, start, end), with_shared(value[0], start, end)
            for first, last, bias in _prefix_query_chunks(c, mid - start, PREFIX_CHUNK):
                seen = c + last
                out[0, start + first:start + last] = _attend(
                    query[0, :, start + first:start + last], keys[:, :seen], values[:, :seen],
                    bias, scale).transpose(0, 1)
            if end > mid:
                out[0, mid:end] = _attend(query[0, :, mid:end], keys, values, prompts_bias,
                                          scale).transpose(0, 1)
    return out


def prefill_cache(model, tree: PromptTree) -> DynamicCache:
    """Run the packed prefill through `model` (loaded with the "prompt_tree_sdpa" attention,
    `cpu_shared_prefix.attention`) and return the rows' left-padded batch KV cache: per layer
    (rows, kv heads, width, head dim), gathered from the packed (1, kv heads, N, head dim)."""
    packed = DynamicCache()
    model(input_ids=tree.ids, position_ids=tree.positions, cache=packed,
          use_cache=True, logits_to_keep=1, prompt_tree=tree)
    rows = DynamicCache()
    for i, layer in enumerate(packed.layers):
        rows.update(layer.keys[0][:, tree.cache_index].transpose(0, 1),
                    layer.values[0][:, tree.cache_index].transpose(0, 1), i)
    return rows
