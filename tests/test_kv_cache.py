"""The KV cache that appends in place: same attention inputs as DynamicCache, no re-copies."""

from __future__ import annotations

import torch
from transformers import DynamicCache

from evaluation.cpu_shared_prefix.kv_cache import ReservedCache


def _prefilled(model, ids, mask):
    cache = DynamicCache()
    with torch.inference_mode():
        model(input_ids=ids, attention_mask=mask, past_key_values=cache, use_cache=True)
    return cache


def test_reserved_cache_decodes_as_the_dynamic_cache_and_appends_in_place(tiny_model):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model)).eval()
    torch.manual_seed(0)
    ids = torch.randint(3, model.config.vocab_size, (3, 7))
    mask = torch.ones(3, 7, dtype=torch.long)
    mask[1, :2] = 0   # left padding
    dynamic = _prefilled(model, ids, mask)
    reserved = ReservedCache([(layer.keys, layer.values) for layer in dynamic.layers], reserve=2)
    buffer = reserved.layers[0].keys.data_ptr()
    with torch.inference_mode():
        for step in range(4):   # 2 steps in the reserved room, then 2 past it (concatenation)
            token = torch.randint(3, model.config.vocab_size, (3, 1))
            mask = torch.cat([mask, torch.ones(3, 1, dtype=torch.long)], dim=1)
            logits = [model(input_ids=token, attention_mask=mask, past_key_values=cache,
                            use_cache=True).logits for cache in (dynamic, reserved)]
            torch.testing.assert_close(logits[1], logits[0], rtol=0, atol=0)
            assert reserved.get_seq_length() == dynamic.get_seq_length() == 8 + step
            # within the room, keys are a view of the buffer allocated up front
            assert (reserved.layers[0].keys.data_ptr() == buffer) == (step < 2)
