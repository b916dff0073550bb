"""The output head on labelled positions only: the model's own loss and gradients, fewer FLOPs."""

from __future__ import annotations

import torch

from joule.flops import head_params, lora_training_flops, matmul_params
from train.data import batch_tensors, labelled_tokens_after, plan_batches
from train.head_loss import labelled_head_loss


def _answers_only(vocab: int):
    """Packed rows of records labelled on their last few tokens, as instruction records are."""
    g = torch.Generator().manual_seed(5)
    examples = []
    for n, answer in ((30, 4), (12, 3), (41, 6), (9, 9)):
        ids = [int(x) for x in torch.randint(3, vocab, (n,), generator=g)]
        examples.append((ids, [-100] * (n - answer) + ids[n - answer:]))
    plan = plan_batches([len(ids) for ids, _ in examples], 48, 2, 4, [1.0])
    return examples, plan


def test_loss_and_gradients_are_the_models_own(tiny_model):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    model.config.use_cache = False
    model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear",
                                             init_lora_weights=False))
    examples, plan = _answers_only(model.config.vocab_size)
    batch = batch_tensors(plan.batches[0], examples, pad_id=0)
    labelled = int((batch["labels"][:, 1:] != -100).sum())
    assert 0 < labelled < batch["labels"].numel() // 2

    def grads_of(loss):
        model.zero_grad()
        loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}

    reference = model(**batch).loss
    expected = grads_of(reference)
    ours = labelled_head_loss(model, batch)
    torch.testing.assert_close(ours, reference.detach(), rtol=1e-5, atol=1e-6)
    got = grads_of(ours)
    for name, grad in expected.items():
        torch.testing.assert_close(got[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    # normalised by Trainer's count when it passes one (tokens across the accumulated batch)
    torch.testing.assert_close(labelled_head_loss(model, batch, num_items_in_batch=2 * labelled),
                               reference.detach() / 2, rtol=1e-5, atol=1e-6)


def test_labelled_tokens_count_what_the_head_sees(tiny_model):
    from transformers import AutoModelForCausalLM

    examples, plan = _answers_only(100)
    seen = 0
    counts = labelled_tokens_after(plan, examples)
    for step, batches in enumerate(plan.steps):
        for batch in batches:
            seen += int((batch_tensors(batch, examples, 0)["labels"][:, 1:] != -100).sum())
        assert counts[step] == seen
    assert 0 < counts[-1] < plan.total_tokens
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    n, h = matmul_params(model), head_params(model)
    assert 0 < h < n
    tokens = plan.total_tokens
    full = lora_training_flops(n, 10, tokens)
    assert full == (4 * n + 60) * tokens == lora_training_flops(n, 10, tokens, h, tokens)
    assert lora_training_flops(n, 10, tokens, h, counts[-1]) == \
        full - 4 * h * (tokens - counts[-1])
