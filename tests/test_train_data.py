"""The batch plan: exact budget, checkpoints at token marks, order, splitting, packed attention."""

from __future__ import annotations

import pytest
import torch

from joule.errors import JouleError
from train.data import batch_tensors, checkpoint_fractions, checkpoint_name, plan_batches

FRACTIONS = [0.02, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0]


def _lengths(n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [int(x) for x in torch.randint(5, 120, (n,), generator=g)]


def _seen(plan, step_batches):
    return sum(c.size for b in step_batches for row in b for c in row)


def test_plan_covers_the_budget_exactly_and_checkpoints_at_marks():
    lengths = _lengths()
    total = sum(lengths)
    plan = plan_batches(lengths, max_seq_len=256, rows_per_batch=4, pack_window=16,
                        fractions=FRACTIONS)
    assert plan.tokens_after[-1] == total == plan.total_tokens
    assert sum(_seen(plan, s) for s in plan.steps) == total
    chunks = sorted((c.example, c.start) for b in plan.batches for row in b for c in row)
    assert chunks == [(i, 0) for i in range(len(lengths))]   # every record once, none split
    for f in FRACTIONS:
        tokens = plan.tokens_after[plan.checkpoints[f] - 1]
        # The mark rounded up to the next record boundary: at most one record past it.
        assert f * total <= tokens < f * total + max(lengths)
    assert 0 <= plan.padding_fraction < 0.1
    for b in plan.batches:
        assert 1 <= len(b) <= 4 and all(sum(c.size for c in row) <= 256 for row in b)


def test_order_is_kept_up_to_the_open_rows():
    lengths = _lengths(100)
    plan = plan_batches(lengths, 128, 2, pack_window=1, fractions=[1.0])
    order = [c.example for b in plan.batches for row in b for c in row]
    assert order == list(range(100))            # one open row: strict curriculum order
    plan = plan_batches(lengths, 128, 2, pack_window=8, fractions=[1.0])
    rows = [row for b in plan.batches for row in b]
    assert [row[0].example for row in rows] == sorted(row[0].example for row in rows)
    for row in rows:                            # a row holds records in curriculum order
        assert [c.example for c in row] == sorted(c.example for c in row)
    assert sorted(c.example for row in rows for c in row) == list(range(100))


def test_long_records_are_split_not_truncated():
    plan = plan_batches([300, 10], max_seq_len=128, rows_per_batch=8, pack_window=4,
                        fractions=[1.0])
    chunks = sorted((c.example, c.start, c.end) for b in plan.batches for row in b for c in row)
    assert chunks == [(0, 0, 128), (0, 128, 256), (0, 256, 300), (1, 0, 10)]
    assert plan.tokens_after[-1] == 310


def test_world_size_gives_one_batch_per_process_per_step():
    plan = plan_batches(_lengths(), 128, 2, 16, FRACTIONS, world_size=2)
    assert all(len(step) == 2 for step in plan.steps)
    assert plan.tokens_after[-1] == sum(_lengths())


def test_fraction_names_and_validation():
    assert checkpoint_name(0.02) == "ckpt-002" and checkpoint_name(1.0) == "ckpt-100"
    assert checkpoint_fractions([0.5]) == [0.5, 1.0]
    with pytest.raises(JouleError, match="checkpoint_fractions"):
        checkpoint_fractions([0.0, 1.0])
    with pytest.raises(JouleError, match="duplicate"):
        checkpoint_fractions([0.021, 0.024])


@pytest.mark.parametrize("attention", ["sdpa", "packed_sdpa"])
def test_packed_rows_give_the_same_loss_as_separate_records(tiny_model, attention):
    """Block-diagonal attention: packing two records changes nothing about either."""
    from transformers import AutoModelForCausalLM

    import train.attention  # noqa: F401  (registers packed_sdpa)

    model = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation=attention).eval()
    g = torch.Generator().manual_seed(1)
    a = [int(x) for x in torch.randint(3, 300, (20,), generator=g)]
    b = [int(x) for x in torch.randint(3, 300, (13,), generator=g)]
    examples = [(a, list(a)), (b, list(b))]
    plan = plan_batches([20, 13], 64, 1, 4, [1.0])
    assert len(plan.batches) == 1 and len(plan.batches[0]) == 1   # one packed row
    packed = batch_tensors(plan.batches[0], examples, pad_id=0)
    with torch.no_grad():
        # use_cache=False as in training: with a KV cache transformers skips packing detection.
        logits = model(input_ids=packed["input_ids"], position_ids=packed["position_ids"],
                       use_cache=False).logits
        alone = [model(input_ids=torch.tensor([x]), use_cache=False).logits[0] for x in (a, b)]
    torch.testing.assert_close(logits[0, :20], alone[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(logits[0, 20:33], alone[1], atol=1e-5, rtol=1e-4)
    # No loss on the first token of each record (nothing of its own precedes it) nor on padding.
    assert packed["labels"][0, 0] == -100 and packed["labels"][0, 20] == -100
