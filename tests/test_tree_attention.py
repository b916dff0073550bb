"""evaluation.cpu_shared_prefix.prompt_tree's written-out attention against torch's SDPA."""

import pytest
import torch

from evaluation.cpu_shared_prefix.prompt_tree import _attend, _bfloat16_products, _bias


def _inputs(dtype, heads=6, kv_heads=2, queries=5, keys=9, dim=8):
    gen = torch.Generator().manual_seed(0)
    query = torch.randn(heads, queries, dim, generator=gen).to(dtype)
    key = torch.randn(kv_heads, keys, dim, generator=gen).to(dtype)
    value = torch.randn(kv_heads, keys, dim, generator=gen).to(dtype)
    allowed = torch.rand(queries, keys, generator=gen) > 0.4
    allowed[:, 0] = True   # every query sees at least one key
    return query, key, value, allowed


def _sdpa(query, key, value, allowed, scale):
    return torch.nn.functional.scaled_dot_product_attention(
        query[None].float(), key[None].float(), value[None].float(), attn_mask=allowed,
        scale=scale, enable_gqa=True)[0]


def test_written_out_attention_is_sdpa_with_grouped_heads_and_a_mask():
    query, key, value, allowed = _inputs(torch.float32)
    # a strided query, as tree_attention passes it (a slice of a transposed projection)
    strided = query.transpose(0, 1).contiguous().transpose(0, 1)
    assert not strided.is_contiguous()
    got = _attend(strided, key, value, _bias(allowed), 0.3)
    torch.testing.assert_close(got, _sdpa(query, key, value, allowed, 0.3))


def test_bfloat16_attention_keeps_float32_scores():
    query, key, value, allowed = _inputs(torch.bfloat16)
    with _bfloat16_products(torch.bfloat16):
        got = _attend(query, key.float(), value, _bias(allowed), 0.3)
    assert got.dtype == torch.bfloat16
    # probabilities are rounded to bfloat16 before the second matmul, so ~1e-2 at most
    torch.testing.assert_close(got.float(), _sdpa(query, key, value, allowed, 0.3),
                               rtol=2e-2, atol=2e-2)
    # large scores (~10-30), where bfloat16 scores would be off by up to 0.125 and their
    # probabilities by ~10%: float64 scores, probabilities rounded to bfloat16 as `_attend`
    # rounds them, is what it must give, to its output's own rounding
    query = (query.float() * 8).to(torch.bfloat16)
    with _bfloat16_products(torch.bfloat16):
        got = _attend(query, key.float(), value, _bias(allowed), 0.3)
    scores = (query.double().view(2, 3, 5, 8) @ key.double()[:, None].transpose(2, 3)) * 0.3
    probs = torch.softmax(scores + _bias(allowed).double(), -1).to(torch.bfloat16)
    expected = (probs.double() @ value.double()[:, None]).view(6, 5, 8)
    torch.testing.assert_close(got.double(), expected, rtol=8e-3, atol=8e-3)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_the_matmul_precision_setting_is_restored(dtype):
    matmul = torch.backends.mkldnn.matmul
    before = matmul.fp32_precision
    with pytest.raises(RuntimeError, match="inside"):
        with _bfloat16_products(dtype):
            assert matmul.fp32_precision == ("bf16" if dtype == torch.bfloat16 else before)
            raise RuntimeError("inside")
    assert matmul.fp32_precision == before
