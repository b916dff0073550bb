"""Batched greedy generation: stop tokens, first-line answers, left padding, merged adapters."""

from __future__ import annotations

import os

import pytest
import torch

from evaluation.common import for_generation, load_model, stop_token_ids
from evaluation.cpu_shared_prefix.attention import ATTENTION
from evaluation.cpu_shared_prefix.generate import generate_answers
from tests.forking import after_a_child_started


@pytest.fixture(scope="module")
def tiny(tiny_model):
    from transformers import AutoTokenizer

    return load_model(tiny_model, attn=ATTENTION), AutoTokenizer.from_pretrained(str(tiny_model))


def _prompts(tokenizer):
    texts = ["Paris is the capital", "Who taught Alexander the Great in Macedon?",
             "Lincoln", "The treaty ended the war in 1783. Question: when?"]
    return [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]


def test_stop_tokens_are_end_of_turn_and_newlines(tiny):
    _, tokenizer = tiny
    stops = set(stop_token_ids(tokenizer))
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in stops
    assert tokenizer.eos_token_id in stops
    for token in tokenizer("a\nb. \n\n", add_special_tokens=False)["input_ids"]:
        assert ("\n" in tokenizer.decode([token])) == (token in stops)
    assert tokenizer.convert_tokens_to_ids("Paris") not in stops


def test_generation_stops_at_the_first_stop_token(tiny):
    model, tokenizer = tiny
    prompt = _prompts(tokenizer)[1]
    free = model.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt),
                          dtype=torch.long), max_new_tokens=6, do_sample=False,
                          eos_token_id=None, pad_token_id=0)[0, len(prompt):].tolist()
    # the greedy continuation's third token, made a stop token, ends the answer right there
    (answer,) = generate_answers(model, tokenizer, [prompt], batch_size=1, max_new_tokens=6,
                                 stops=[free[2]])
    assert answer.new_tokens == free.index(free[2]) + 1
    assert answer.prompt_tokens == len(prompt)
    # no stop token reached (the stop is a token the greedy continuation never makes):
    # exactly max_new_tokens come out
    never = next(t for t in range(len(tokenizer)) if t not in free)
    (capped,) = generate_answers(model, tokenizer, [prompt], batch_size=1, max_new_tokens=4,
                                 stops=[never])
    assert capped.new_tokens == 4


class _Scripted:
    """Stands in for a model: "generates" the given token ids after every prompt."""

    def __init__(self, new_ids):
        self.new_ids = new_ids

    def generate(self, input_ids, attention_mask, generation_config):
        new = torch.tensor([self.new_ids] * input_ids.shape[0])
        return torch.cat([input_ids, new], dim=1)


def test_answer_is_the_first_line_stripped(tiny):
    _, tokenizer = tiny
    stops = stop_token_ids(tokenizer)
    words = tokenizer(" Paris ", add_special_tokens=False)["input_ids"]
    newline = tokenizer("\n", add_special_tokens=False)["input_ids"]
    after = tokenizer("France", add_special_tokens=False)["input_ids"]
    (answer,) = generate_answers(_Scripted(words + newline + after), tokenizer, [[5, 6]], 1, 16,
                                 stops=stops)
    assert answer.text == "Paris"
    assert answer.new_tokens == len(words) + len(newline)  # counted up to the stop token
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    (answer,) = generate_answers(_Scripted(words + [end] + after), tokenizer, [[5]], 1, 16,
                                 stops=stops)
    assert answer.text == "Paris" and answer.new_tokens == len(words) + 1


def test_batches_with_left_padding_give_the_one_at_a_time_answers(tiny):
    model, tokenizer = tiny
    prompts = _prompts(tokenizer)
    assert len({len(p) for p in prompts}) == len(prompts)  # padding really happens
    single = [generate_answers(model, tokenizer, [p], 1, 8)[0] for p in prompts]
    batched = generate_answers(model, tokenizer, prompts, batch_size=3, max_new_tokens=8)
    assert batched == single  # same text and token counts, in the order given
    assert any(a.text for a in single)


def test_merged_adapter_matches_the_unmerged_one_and_leaves_the_base_alone(tiny, tmp_path):
    from peft import LoraConfig, get_peft_model

    model, tokenizer = tiny
    before = {k: v.clone() for k, v in model.state_dict().items()}
    # init_lora_weights=False: random B, so the adapter really changes the outputs
    peft_model = get_peft_model(load_model(tiny[0].config._name_or_path), LoraConfig(
        r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    peft_model.save_pretrained(tmp_path / "ckpt-100")
    ids = torch.tensor([_prompts(tokenizer)[1]])
    with torch.inference_mode():
        want = peft_model(ids).logits
        merged = for_generation(model, tmp_path / "ckpt-100")
        half = for_generation(model, tmp_path / "ckpt-100", dtype="bfloat16")(ids).logits
        got = merged(ids).logits
        base = model(ids).logits
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(base, got, atol=1e-3)
    torch.testing.assert_close(half.float(), want, rtol=0.05, atol=0.05)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_threads_apply_while_generating_and_are_restored(tiny):
    model, tokenizer = tiny
    seen = []

    class _Counting(_Scripted):
        def generate(self, **kwargs):
            seen.append(torch.get_num_threads())
            return super().generate(**kwargs)

    before = torch.get_num_threads()
    generate_answers(_Counting([5, 6]), tokenizer, _prompts(tokenizer), batch_size=2,
                     max_new_tokens=2, stops=[6], threads=1)
    assert seen == [1, 1]
    assert torch.get_num_threads() == before
    generate_answers(_Counting([5, 6]), tokenizer, _prompts(tokenizer)[:1], batch_size=1,
                     max_new_tokens=2, stops=[6], threads=None)
    assert seen[-1] == before


class _ScoreSpy:
    """Wraps a model; records, per prompt, the first generated step's logits (generate scores)."""

    def __init__(self, model):
        self.model, self.first_logits = model, {}

    @property
    def config(self):
        return self.model.config

    def __call__(self, **kwargs):
        return self.model(**kwargs)

    def generate(self, **kwargs):
        out = self.model.generate(**kwargs, return_dict_in_generate=True, output_scores=True)
        for row, (ids, mask) in enumerate(zip(kwargs["input_ids"], kwargs["attention_mask"],
                                              strict=True)):
            self.first_logits[tuple(ids[mask.bool()].tolist())] = out.scores[0][row]
        return out.sequences


@pytest.mark.parametrize("chunk", [64, 2])   # queries per SDPA call over a group prefix
def test_shared_prefixes_give_the_unshared_answers(tiny, monkeypatch, chunk):
    import evaluation.cpu_shared_prefix.attention
    import evaluation.cpu_shared_prefix.prompt_tree

    monkeypatch.setattr(evaluation.cpu_shared_prefix.prompt_tree, "PREFIX_CHUNK", chunk)
    model, tokenizer = tiny
    trees = []
    tree_attention = evaluation.cpu_shared_prefix.attention.tree_attention

    def spy_tree(query, key, value, tree, scaling):
        trees.append(tree)
        return tree_attention(query, key, value, tree, scaling)

    monkeypatch.setattr(evaluation.cpu_shared_prefix.attention, "tree_attention", spy_tree)
    passages = ["The treaty ended the war in 1783 and Paris was", "Lincoln was elected in",
                "Aristotle taught Alexander the Great in Macedon, and"]
    questions = [" Question: when?", " Question: who taught Alexander?", " Who?"]
    texts = [passages[0] + q for q in questions[:2]] + [passages[1] + q for q in questions[1:]]
    texts += [passages[2] + q for q in questions]
    texts = ["Answer the question. " + t for t in texts]   # a prefix shared across groups
    prompts = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    keys = ["a", "a", "b", "b", "c", "c", "c"]
    plain_spy = _ScoreSpy(model)
    plain = generate_answers(plain_spy, tokenizer, prompts, batch_size=4, max_new_tokens=6)
    assert not trees   # without groups: plain left-padded batches
    # batch 5: groups b and c (prefixes of different lengths) share a batch, a is alone;
    # batch 2: group c is cut in two chunks, each computing its prefix
    for batch_size in (5, 2):
        spy = _ScoreSpy(model)
        shared = generate_answers(spy, tokenizer, prompts, batch_size=batch_size,
                                  max_new_tokens=6, groups=keys)
        # one packed prefill per batch, in each of the tiny model's 2 layers
        assert len(trees) == 2 * (2 if batch_size == 5 else 4) and trees[-1].shared > 0
        # computed tokens: each batch's packed row, plus each prompt's last token
        packed = sum(tree.ids.shape[1] for tree in trees[::2])
        assert sum(a.computed_prompt_tokens for a in shared) == pytest.approx(packed + 7)
        trees.clear()
        assert [(a.text, a.new_tokens, a.prompt_tokens) for a in shared] == \
               [(a.text, a.new_tokens, a.prompt_tokens) for a in plain]
        # the next-token logits after each prompt: what the model saw was exactly its prompt
        assert set(spy.first_logits) == set(plain_spy.first_logits) == {tuple(p) for p in prompts}
        for prompt, logits in plain_spy.first_logits.items():
            torch.testing.assert_close(spy.first_logits[prompt], logits, rtol=1e-4, atol=1e-5)
    # each prefix is computed once per chunk: fewer tokens computed than prompted
    assert sum(a.computed_prompt_tokens for a in plain) == sum(map(len, prompts))
    assert sum(a.computed_prompt_tokens for a in shared) < 0.8 * sum(map(len, prompts))
    # a group of one computes its whole prompt, as without groups
    (alone,) = generate_answers(model, tokenizer, prompts[:1], 1, 6, groups=["x"])
    assert alone.computed_prompt_tokens == len(prompts[0]) and alone.text == plain[0].text


def test_group_keys_must_match_the_prompts(tiny):
    model, tokenizer = tiny
    with pytest.raises(ValueError, match="2 group keys for 1 prompts"):
        generate_answers(model, tokenizer, _prompts(tokenizer)[:1], 1, 4, groups=["a", "b"])


def test_the_output_head_gets_a_contiguous_input(tiny):
    model, tokenizer = tiny
    seen = []
    frozen = for_generation(model)
    frozen.requires_grad_(False)  # as after merging an adapter
    head = frozen.get_output_embeddings()
    head.register_forward_hook(lambda module, args, out: seen.append(args[0].is_contiguous()))
    strided = torch.randn(3, 5, model.config.hidden_size)[:, -1:, :]
    assert not strided.is_contiguous()
    with torch.inference_mode():
        torch.testing.assert_close(head(strided), model.get_output_embeddings()(strided))
    assert seen == [True]


def test_prompts_pack_into_a_tree_of_shared_prefixes(monkeypatch):
    import evaluation.cpu_shared_prefix.prompt_tree
    from evaluation.cpu_shared_prefix.prompt_tree import attention_scores, pack_prompts

    prompts = [[1, 2, 3, 10, 11, 20, 21], [1, 2, 3, 10, 11, 30], [1, 2, 3, 40, 50, 51]]
    tree = pack_prompts(prompts, [(5, [0, 1]), (5, [2])])
    # [1, 2, 3] once; group a's [10, 11] once, then prompt 0's own [20] (its last token, 21,
    # starts generation); prompt 1 has no own token before its last; group b's [40, 50]
    assert tree.shared == 3
    assert tree.ids.tolist() == [[1, 2, 3, 10, 11, 20, 40, 50]]
    assert tree.positions.tolist() == [[0, 1, 2, 3, 4, 5, 3, 4]]
    assert tree.cache_index.tolist() == [[0, 1, 2, 3, 4, 5], [0, 0, 1, 2, 3, 4],
                                         [0, 0, 1, 2, 6, 7]]
    # per group: its prefix [start, mid), then its prompts' own tokens [mid, end), whose mask
    # columns are the 3 shared tokens and the group's tokens
    (*a_spans, a_bias), (*b_spans, b_bias) = tree.blocks   # additive: 0 where seen
    assert (a_spans, b_spans) == ([3, 5, 6], [6, 8, 8])
    assert (a_bias == 0).int().tolist() == [[1, 1, 1, 1, 1, 1]] and b_bias.shape == (0, 5)
    # attention's work, per head: shared 3x3; group a's prefix (2 queries over 3 + 2 keys) and
    # its prompt token (over 3 + 3); group b's prefix (2 over 3 + 2); in chunks of 1 query,
    # group prefixes see 3 + 1 and 3 + 2 keys
    assert attention_scores(tree) == 9 + 10 + 6 + 10
    monkeypatch.setattr(evaluation.cpu_shared_prefix.prompt_tree, "PREFIX_CHUNK", 1)
    assert attention_scores(tree) == 9 + 9 + 6 + 9
    # no group prefix, two prompts with own tokens: siblings do not see each other
    tree = pack_prompts([[7, 8, 1, 2], [7, 8, 3, 4]], [(2, [0, 1])])
    assert tree.ids.tolist() == [[7, 8, 1, 3]] and tree.blocks[0][:3] == (2, 2, 4)
    assert (tree.blocks[0][3] == 0).int().tolist() == [[1, 1, 1, 0], [1, 1, 0, 1]]


def test_shared_prefixes_refuse_a_model_without_the_tree_attention(tiny_model, tiny):
    _, tokenizer = tiny
    plain = load_model(tiny_model, attn="sdpa")
    with pytest.raises(ValueError, match="attn_implementation='prompt_tree_sdpa'"):
        generate_answers(plain, tokenizer, _prompts(tokenizer)[:2], 2, 4, groups=["a", "a"])


def test_two_workers_give_the_one_worker_answers(tiny, monkeypatch):
    import evaluation.cpu_shared_prefix.generate

    model, tokenizer = tiny
    prompts = _prompts(tokenizer) * 2
    run_jobs = evaluation.cpu_shared_prefix.generate.run_jobs
    pids = []

    def forked_too(run, jobs, costs, workers, threads):
        # a child surely runs a batch; each result carries the pid that produced it
        done = run_jobs(after_a_child_started(lambda job: (os.getpid(), run(job))), jobs,
                        costs, workers, threads)
        pids.extend(pid for pid, _ in done)
        return [answers for _, answers in done]

    # plain batches, and packed trees (two passages' groups)
    for groups in (None, ["a", "b", "a", "b", "a", "b", "a", "b"]):
        alone = generate_answers(model, tokenizer, prompts, batch_size=2, max_new_tokens=6,
                                 threads=1, groups=groups, workers=1)
        monkeypatch.setattr(evaluation.cpu_shared_prefix.generate, "run_jobs", forked_too)
        shared = generate_answers(model, tokenizer, prompts, batch_size=2, max_new_tokens=6,
                                  threads=1, groups=groups, workers=2)
        monkeypatch.undo()
        assert len(set(pids)) == 2 and os.getpid() in pids   # the parent and a child ran
        pids.clear()
        assert shared == alone   # text, token counts, computed tokens, in the order given
        assert any(a.text for a in alone)


def test_shared_prefixes_refuse_prompts_longer_than_a_sliding_window(tiny):
    model, tokenizer = tiny
    prompts = _prompts(tokenizer)[:2]
    longest = max(map(len, prompts))
    model.config.sliding_window = longest + 3   # the prompt fits, prompt + 4 new tokens do not
    try:
        with pytest.raises(ValueError, match=f"sliding window of {longest + 3} tokens"):
            generate_answers(model, tokenizer, prompts, 2, 4, groups=["a", "a"])
        # within the window the answers are the model's own: allowed
        assert len(generate_answers(model, tokenizer, prompts, 2, 3, groups=["a", "a"])) == 2
    finally:
        del model.config.sliding_window


def test_sliding_windows_are_read_from_the_config():
    from types import SimpleNamespace

    from evaluation.cpu_shared_prefix.generate import sliding_window

    assert sliding_window(SimpleNamespace()) is None
    assert sliding_window(SimpleNamespace(sliding_window=4096)) == 4096          # Mistral
    assert sliding_window(SimpleNamespace(sliding_window=4096, use_sliding_window=False)) is None
    assert sliding_window(SimpleNamespace(sliding_window=512,
                                          layer_types=["full_attention"] * 2)) is None
    assert sliding_window(SimpleNamespace(sliding_window=512, layer_types=[
        "sliding_attention", "full_attention"])) == 512                         # Gemma-style
