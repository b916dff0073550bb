"""Per-record causal attention for packed rows computes what the block-diagonal mask computes."""

from __future__ import annotations

import torch

from train.attention import ATTENTION, record_bounds
from train.data import batch_tensors, plan_batches


def test_record_bounds_split_rows_where_positions_restart():
    positions = torch.tensor([[0, 1, 2, 0, 1, 0, 1, 2, 3], [0, 1, 2, 3, 4, 5, 6, 0, 1]])
    assert record_bounds(positions) == [[(0, 3), (3, 5), (5, 9)], [(0, 7), (7, 9)]]
    assert record_bounds(torch.arange(4)[None]) == [[(0, 4)]]


def _packed_batch(vocab: int):
    g = torch.Generator().manual_seed(3)
    lengths = [23, 9, 17, 30, 5]
    examples = []
    for n in lengths:
        ids = [int(x) for x in torch.randint(3, vocab, (n,), generator=g)]
        examples.append((ids, list(ids)))
    plan = plan_batches(lengths, 48, 2, 4, [1.0])
    batch = max(plan.batches, key=len)
    assert len(batch) == 2 and any(len(row) > 1 for row in batch)   # packed, with padding
    return batch_tensors(batch, examples, pad_id=0)


def test_loss_and_gradients_match_the_masked_sdpa_row(tiny_model, monkeypatch):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    import train.attention

    fallbacks = []
    fallback = train.attention.sdpa_attention_forward
    monkeypatch.setattr(train.attention, "sdpa_attention_forward",
                        lambda *a, **k: fallbacks.append(1) or fallback(*a, **k))

    results = {}
    for attention in ("sdpa", ATTENTION):
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation=attention)
        model.config.use_cache = False
        model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear",
                                                 init_lora_weights=False))
        batch = _packed_batch(model.config.vocab_size)
        out = model(**batch)
        out.loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
        results[attention] = (out.loss.detach(), out.logits.detach(), grads)
    assert not fallbacks   # training batches take the per-record path, not the masked one
    (loss, logits, grads), (p_loss, p_logits, p_grads) = results["sdpa"], results[ATTENTION]
    real = batch["labels"] != -100
    torch.testing.assert_close(p_logits[real], logits[real], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(p_loss, loss, atol=1e-6, rtol=1e-5)
    assert p_grads.keys() == grads.keys() and grads
    for name, grad in grads.items():
        torch.testing.assert_close(p_grads[name], grad, atol=1e-6, rtol=1e-4, msg=name)


def test_generation_with_a_cache_falls_back_to_sdpa(tiny_model):
    from transformers import AutoModelForCausalLM

    ids = torch.tensor([[5, 9, 14, 2, 7]])
    mask = torch.tensor([[0, 1, 1, 1, 1]])
    out = {}
    for attention in ("sdpa", ATTENTION):
        model = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation=attention)
        out[attention] = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=4,
                                        do_sample=False, pad_token_id=0)
    assert torch.equal(out["sdpa"], out[ATTENTION])


def test_unpacked_and_padded_batches_match_sdpa(tiny_model):
    """Rows without position ids are one record each; a caller's padding mask is respected."""
    from transformers import AutoModelForCausalLM

    ids = torch.tensor([[5, 9, 14, 2, 7, 11], [0, 0, 8, 3, 6, 12]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1]])   # left padding
    logits = {}
    for attention in ("sdpa", ATTENTION):
        model = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation=attention)
        model.config.use_cache = False
        with torch.no_grad():
            logits[attention] = (model(input_ids=ids).logits,
                                 model(input_ids=ids, attention_mask=mask).logits)
    for ours, theirs in zip(logits[ATTENTION], logits["sdpa"], strict=True):
        torch.testing.assert_close(ours[mask.bool()], theirs[mask.bool()], atol=1e-5, rtol=1e-4)


def test_decode_steps_match_sdpa(tiny_model):
    """Generation with the grouped-query model (4 heads, 2 kv heads), left padding included:
    every step's scores equal sdpa's (decode steps go through transformers' own sdpa)."""
    from transformers import AutoModelForCausalLM

    ids = torch.tensor([[5, 9, 14, 2, 7, 11], [0, 0, 8, 3, 6, 12], [0, 0, 0, 0, 4, 9]])
    mask = (ids != 0).long()
    scores = {}
    for attention in ("sdpa", ATTENTION):
        model = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation=attention)
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=5,
                             do_sample=False, pad_token_id=0, eos_token_id=None,
                             return_dict_in_generate=True, output_scores=True)
        scores[attention] = torch.stack(out.scores)
    torch.testing.assert_close(scores[ATTENTION], scores["sdpa"], atol=1e-5, rtol=1e-4)


def test_training_imports_nothing_from_evaluation():
    import subprocess
    import sys

    from joule.config import PROJECT_ROOT

    code = ("import sys, train.attention, train.callbacks, train.data, train.head_loss, "
            "train.loop, train.model, pipeline.train; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'evaluation'))")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
