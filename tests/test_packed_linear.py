"""Linear layers with oneDNN-packed bfloat16 weights: same results, only bfloat16 CPU layers."""

from __future__ import annotations

import pytest
import torch

from evaluation.common import for_generation, load_model
from evaluation.cpu_shared_prefix.generate import generate_answers
from evaluation.cpu_shared_prefix.packed_linear import PackedLinear, pack_linears, packable

needs_packing = pytest.mark.skipif(not packable(torch.zeros(1, dtype=torch.bfloat16)),
                                   reason="this torch/CPU has no oneDNN bfloat16 linear")


@needs_packing
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("rows", [1, 7, 300])
def test_packed_linear_is_bit_identical_to_linear(bias, rows):
    torch.manual_seed(0)
    linear = torch.nn.Linear(96, 40, bias=bias).to(torch.bfloat16)
    x = torch.randn(2, rows, 96).to(torch.bfloat16)
    with torch.inference_mode():
        assert torch.equal(PackedLinear(linear)(x), linear(x))
        if not bias:
            # a strided input (generate's last position) too; with a bias, F.linear itself
            # adds it after rounding for strided inputs but inside the matmul for contiguous
            # ones (the model's layers have no bias)
            assert torch.equal(PackedLinear(linear)(x[:, -1:]), linear(x[:, -1:]))


def test_only_bfloat16_cpu_linears_are_packed():
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Embedding(5, 8))
    assert pack_linears(model) == 0 and type(model[0]) is torch.nn.Linear   # float32: MKL's
    assert not packable(torch.zeros(1, dtype=torch.float16))


@needs_packing
def test_generation_packs_bfloat16_weights_and_answers_alike(tiny_model):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model))
    base = load_model(tiny_model)
    packed = for_generation(base, dtype="bfloat16")
    assert pack_linears(packed) > 0   # what SharedPrefixEngine.prepare does
    plain = base.to(torch.bfloat16)   # the same weights, unpacked
    linears = [m for m in packed.modules() if isinstance(m, torch.nn.Linear | PackedLinear)]
    assert linears and all(isinstance(m, PackedLinear) for m in linears)
    # the tied output head is packed as a copy: the input embedding keeps its plain weight
    assert torch.equal(packed.get_input_embeddings().weight, plain.get_input_embeddings().weight)
    ids = tokenizer(["Paris is the capital of", "Lincoln was"], return_tensors="pt",
                    padding=True)
    with torch.inference_mode():
        assert torch.equal(packed(**ids).logits, plain(**ids).logits)
    prompts = [tokenizer(t, add_special_tokens=False)["input_ids"]
               for t in ("Who taught Alexander?", "The treaty ended the war in 1783.")]
    assert generate_answers(packed, tokenizer, prompts, 2, 6) == \
           generate_answers(plain, tokenizer, prompts, 2, 6)
