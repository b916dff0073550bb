"""LLM rewriting: parsing, grounding, styles, and the stage against an HTTP server of our own
(error injection: 500s, garbage, timeout, server down; the request cache)."""

from __future__ import annotations

import json
import socket

import pytest

from joule.config import compose
from joule.errors import JouleError
from joule.formats import prompt_and_answer
from joule.io import read_table
from pipeline.rewrite_llm import main
from rewriters.llm import ground, parse
from rewriters.llm.rewrite import passages
from rewriters.llm.styles import style_from_config
from tests.llm_server import FakeServer
from tests.rewrite_fixtures import good_pages, write_pages


def test_parse_qa_pairs_numbered_inline_stray_and_truncated():
    text = ("Sure, here you go:\n1. Question: Who won?\nAnswer: Curie\n"
            "**Q2:** Where? **A2:** Paris\nQuestion: When?\n3) Question: How many?\nAnswer: 3")
    pairs, drops = parse.parse_qa_pairs(text, truncated=False)
    assert pairs == [("Who won?", "Curie"), ("Where?", "Paris"), ("How many?", "3")]
    assert sorted(drops) == ["stray_text", "unanswered_question"]
    pairs, drops = parse.parse_qa_pairs(text, truncated=True)
    assert pairs[-1] == ("Where?", "Paris") and "truncated_output" in drops
    pairs, drops = parse.parse_qa_pairs("Question: Who won the", truncated=True)
    assert pairs == [] and drops == ["truncated_output"]


def test_parse_list_and_text():
    items, drops = parse.parse_list("Facts:\n- One.\n2. Two.\n* Three", truncated=True)
    assert items == ["One.", "Two."] and drops == ["stray_text", "truncated_output"]
    text, drops = parse.parse_text("Here is the rewrite:\nA cat sat. It was hap", truncated=True)
    assert text == "A cat sat." and drops == ["stray_text", "truncated_sentence"]


def test_grounding_spans_names_numbers():
    passage = "Marie Curie moved to Paris in 1891. She won the Nobel Prize in 1,903."
    assert ground.find_span(passage, "paris.") == ("Paris", 21)
    assert ground.find_span(passage, "London") is None and ground.find_span(passage, "  ") is None
    assert ground.numbers(passage) == {"1891", "1903"}
    assert {"Curie", "Paris", "Nobel", "Prize"} <= ground.names(passage)
    good = "Curie went to Paris in 1891 and got the Nobel Prize in 1903."
    assert ground.check_paraphrase(passage, good, 0.5, 1.0) is None
    assert ground.check_paraphrase(passage, "A woman went to a city in 1891 and 1903.",
                                   0.5, 1.0) == "lost_named_entities"
    assert ground.check_paraphrase(passage, "Curie, Paris, Nobel Prize in 1891.",
                                   0.5, 1.0) == "lost_numbers"


def test_passages_cut_at_breaks():
    text = "A" * 50 + ".\n\n" + "B" * 50 + ". " + "C" * 30
    assert passages(text, 80, 5) == ["A" * 50 + ".", "B" * 50 + ".", "C" * 30]
    assert len(passages(text, 80, 1)) == 1


def test_style_errors_name_the_key():
    ok = {"format": "paraphrase", "parser": "text", "prompt": "{title}: {passage}"}
    style = style_from_config("s", dict(ok))
    assert style.record_format == "paraphrase.s.v1" and len(style.prompt_hash) == 12
    for bad, key in [({"format": "poem"}, "format"), ({"parser": "xml"}, "parser"),
                     ({"prompt": "{page}"}, "prompt"), ({"temperature": 1}, "temperature")]:
        with pytest.raises(JouleError, match=key):
            style_from_config("s", {**ok, **bad})


def config(tmp_path, url, *extra):
    return compose([f"data_dir={tmp_path / 'data'}", f"metrics_dir={tmp_path / 'metrics'}",
                    "energy.use_zeus=false", "rewrite_llm/backend=openai",
                    f"rewrite_llm.backend.base_url={url}", "rewrite_llm.backend.model=fake",
                    "rewrite_llm.backend.max_retries=2", "rewrite_llm.backend.timeout_s=5",
                    "rewrite_llm.min_passage_chars=50", "rewrite_llm.max_pages=2", *extra])


def test_stage_against_server_grounds_records_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-test-key")
    write_pages(tmp_path / "data", good_pages())
    with FakeServer() as srv:
        m = main(config(tmp_path, srv.url))
        assert srv.requests == m["requests_sent"] == m["requests"] == 8   # 2 pages x 4 styles
        out = tmp_path / "data" / "records_llm"
        qa = read_table(out / "qa_diverse").to_pylist()
        assert qa and m["records"]["qa_diverse"] == len(qa)
        for r in qa:   # every kept answer is a span of its passage
            assert r["context"][r["answer_start"]:][:len(r["answer"])] == r["answer"]
            meta = json.loads(r["meta"])
            assert meta["model"] == "fake" and meta["prompt_hash"] and meta["generation"]
            assert prompt_and_answer(r)
        assert m["drops"]["qa_diverse"]["answer_not_in_passage"] == 2   # "bright purple"
        assert m["drops"]["knowledge_list"]["number_not_in_passage"] == 2   # "999 moons"
        facts = read_table(out / "knowledge_list").to_pylist()
        assert facts and all(prompt_and_answer(r) for r in facts)
        para = read_table(out / "paraphrase_wiki").to_pylist()
        assert para and prompt_and_answer(para[0]) is None and para[0]["format"].startswith(
            "paraphrase.")
        assert m["energy_source"] == "estimated:tdp+estimated:tokens"
        assert m["energy_remote"]["energy_j"] > 0 and m["energy_j"] > m["energy_remote"]["energy_j"]
        first = {p.name: p.read_bytes() for p in out.rglob("*.parquet")}
        # A re-run asks nothing: every answer comes from the cache; same bytes out.
        m2 = main(config(tmp_path, srv.url))
        assert srv.requests == 8 and m2["requests_sent"] == 0 and m2["answers_from_cache"] == 8
        assert {p.name: p.read_bytes() for p in out.rglob("*.parquet")} == first
        assert m2["energy_remote"]["energy_j"] == m["energy_remote"]["energy_j"]
    text = "".join(p.read_text() for p in (tmp_path / "metrics").rglob("*.json"))
    assert "sk-secret" not in text


def test_retries_500s_then_succeeds(tmp_path):
    write_pages(tmp_path / "data", good_pages())
    with FakeServer(fail_first=2) as srv:
        m = main(config(tmp_path, srv.url, "rewrite_llm.backend.concurrency=1"))
        assert m["requests_sent"] == 8 and srv.requests == 10


@pytest.mark.parametrize("mode, match", [("garbage", "not a chat completion"),
                                         ("slow", "did not answer within"),
                                         ("fail", "HTTP 500")])
def test_bad_server_one_error_no_output(tmp_path, mode, match):
    write_pages(tmp_path / "data", good_pages())
    kw = {"garbage": dict(mode="garbage"), "slow": dict(mode="slow", delay_s=3),
          "fail": dict(fail_first=100)}[mode]
    with FakeServer(**kw) as srv:
        with pytest.raises(JouleError, match=match) as err:
            main(config(tmp_path, srv.url, "rewrite_llm.backend.timeout_s=1",
                        "rewrite_llm.backend.max_retries=1"))
        assert srv.url in str(err.value)
    assert not (tmp_path / "data" / "records_llm").exists()
    assert not (tmp_path / "metrics" / "rewrite_llm.json").exists()


def test_server_down_names_url(tmp_path):
    write_pages(tmp_path / "data", good_pages())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(JouleError, match=f"{url} is unreachable"):
        main(config(tmp_path, url, "rewrite_llm.backend.max_retries=0"))
    assert not (tmp_path / "data" / "records_llm").exists()


def test_killed_run_resumes_from_cache(tmp_path):
    write_pages(tmp_path / "data", good_pages())
    cfg = config(tmp_path, "", "rewrite_llm.flush_every=4", "rewrite_llm.backend.concurrency=1",
                 "rewrite_llm.backend.max_retries=0")
    with FakeServer(fail_after=5) as srv:   # dies after one chunk of 4 answers
        cfg.rewrite_llm.backend.base_url = srv.url
        with pytest.raises(JouleError, match="HTTP 500"):
            main(cfg)
    assert not (tmp_path / "data" / "records_llm").exists()
    with FakeServer() as srv:
        cfg.rewrite_llm.backend.base_url = srv.url
        m = main(cfg)
        assert m["answers_from_cache"] == 4 and m["requests_sent"] == srv.requests == 4


def test_remote_backend_without_energy_figure_fails_before_requests(tmp_path):
    write_pages(tmp_path / "data", good_pages())
    with FakeServer() as srv:
        with pytest.raises(JouleError, match="joules_per_generated_token"):
            main(config(tmp_path, srv.url,
                        "rewrite_llm.backend.energy.joules_per_generated_token=null"))
        assert srv.requests == 0


def test_curated_llm_reads_the_llm_record_root(tmp_path, tiny_model):
    from pipeline.curate import main as curate
    from tests.curate_fixtures import write_eval

    write_pages(tmp_path / "data", good_pages())
    with FakeServer() as srv:
        m = main(config(tmp_path, srv.url))
    overrides = [f"data_dir={tmp_path / 'data'}", f"metrics_dir={tmp_path / 'metrics'}",
                 f"model.dir={tiny_model}", f"eval.path={write_eval(tmp_path / 'eval.json')}",
                 "experiment.token_budget=100000", "energy.use_zeus=false"]
    c = curate(compose([*overrides, "curriculum=curated_llm"]))
    assert c["records_in"] == sum(m["records"].values())   # records_llm only: no spaCy root
    kept = read_table(tmp_path / "data" / "curricula" / "curated_llm").to_pylist()
    assert kept and {r["format"].split(".")[0] for r in kept} <= {"qa_extractive", "paraphrase",
                                                                   "key_facts"}
    with pytest.raises(JouleError, match=r"no record directories under .*/data/records "):
        curate(compose([*overrides, "curriculum=curated"]))   # the spaCy root is absent here


class _LocalBackend:
    """An in-process backend stand-in (remote False) that counts what it generates."""

    kind, model, remote = "local", "fake", False

    def __init__(self, energy=None):
        self.energy, self.sent = energy or {}, 0

    def generate(self, requests):
        from rewriters.llm.backends import Answer

        self.sent += len(requests)
        return [Answer("1. Q: who? A: x", prompt_tokens=10 * (i + 1), generated_tokens=5,
                       finish_reason="stop") for i, _ in enumerate(requests)]


def test_local_answers_carry_their_cost_through_the_cache(tmp_path):
    """Each generated answer stores its share of the chunk's window; a cached run counts the
    stored costs; an answer without one is estimated from tokens, or is an error, never 0."""
    from joule.config import compose as _compose
    from joule.energy import meter_from_config
    from rewriters.llm.cache import RequestCache
    from rewriters.llm.rewrite import LLMRewrite

    style = style_from_config("s", {"format": "paraphrase", "parser": "text",
                                    "prompt": "{title}: {passage}"})
    pages = [{"id": str(i), "title": f"T{i}", "text": "Some passage text. " * 20}
             for i in range(3)]
    meter = meter_from_config(_compose(["energy.use_zeus=false"]).energy)
    cache = RequestCache(tmp_path / "cache.sqlite")
    gen = {"max_tokens": 8, "temperature": 0.0, "top_p": 1.0, "seed": 0}

    def run(backend):
        return LLMRewrite([style], backend, cache, generation=gen, min_passage_chars=10,
                          flush_every=2, meter=meter).run(pages)

    first = run(_LocalBackend())
    assert first.requests_sent == 3 and first.generation_j > 0 and first.carried == {}
    stored = [json.loads(a)["cost"] for (a,) in cache._db.execute("SELECT answer FROM answers")]
    assert sum(c["energy_j"] for c in stored) == pytest.approx(first.generation_j)
    assert {c["energy_source"] for c in stored} == {"estimated:tdp"}
    backend = _LocalBackend()
    again = run(backend)
    assert backend.sent == 0 and again.generation_j == 0
    carried = {"answers": 3, "energy_j": pytest.approx(first.generation_j)}
    assert again.carried == {"stored:estimated:tdp": carried}
    for key, answer in cache._db.execute("SELECT key, answer FROM answers").fetchall():
        row = json.loads(answer)
        del row["cost"]
        cache.put(key, row)   # as an older version cached it
    energy = {"joules_per_prompt_token": 0.1, "joules_per_generated_token": 2.0, "source": "t"}
    old = run(_LocalBackend(energy))
    tokens_j = 0.1 * (10 + 20 + 10) + 2.0 * 15   # prompt tokens by place in a chunk of 2
    assert old.carried == {"estimated:tokens (no stored cost)": {
        "answers": 3, "energy_j": pytest.approx(tokens_j)}}
    with pytest.raises(JouleError, match="rewrite_llm.backend.energy.joules_per_generated_token"
                                         ".* answers cached without a stored cost"):
        run(_LocalBackend())
    cache.close()
