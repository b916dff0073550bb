"""The `prepare` stage: sources, skip reasons, output, determinism, bad inputs, the real sample."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import pyarrow.parquet as pq
import pytest

from joule.config import PROJECT_ROOT, compose
from joule.errors import JouleError
from joule.io import read_json, read_table
from pipeline.prepare import main
from tests.wikidump import ARTICLE, articles, write_dump
from wiki.clean import MARKUP

SKIP_FIXTURE = articles(3) + [
    {"title": "Old name", "text": "#REDIRECT [[Town 1]]", "page_id": 10, "redirect": "Town 1"},
    {"title": "Bare redirect", "text": "#redirect [[Town 2]]", "page_id": 11},
    {"title": "Wikipedia:Rules", "text": ARTICLE.format(title="Rules"), "page_id": 12, "ns": 4},
    {"title": "Mercury", "page_id": 13,
     "text": "'''Mercury''' may refer to a planet, a metal, a god and more.\n{{disambiguation}}"},
    {"title": "Town (disambiguation)", "text": ARTICLE.format(title="Town"), "page_id": 14},
    {"title": "Stub", "text": "'''Stub''' is short.{{stub}}", "page_id": 15},
]


def _cfg(tmp_path, *overrides):
    return compose([f"data_dir={tmp_path}/data", f"metrics_dir={tmp_path}/metrics",
                    "corpus.min_words=10", *overrides])


def _dump_cfg(tmp_path, path, *overrides):
    return _cfg(tmp_path, "corpus=wiki_dump", f"corpus.path={path}", "corpus.min_words=10",
                *overrides)


def test_dump_to_pages_with_every_skip_reason_counted(tmp_path):
    dump = write_dump(tmp_path / "d.xml.bz2", SKIP_FIXTURE)
    metrics = main(_dump_cfg(tmp_path, dump))
    table = read_table(tmp_path / "data" / "pages")
    assert table.column_names == ["id", "title", "text", "sections"]
    rows = table.to_pylist()
    assert [(r["id"], r["title"]) for r in rows] == [("1", "Town 1"), ("2", "Town 2"),
                                                     ("3", "Town 3")]
    assert rows[0]["text"] == (
        "Town 1 is a small town in the valley of nowhere. It has a river, a bridge and a market "
        "that opens on Sundays.\n\n"
        "The town was founded in 1850 by farmers who came from the coast.")
    assert [s["title"] for s in rows[0]["sections"]] == ["", "History"]
    written = read_json(tmp_path / "metrics" / "prepare.json")
    assert written["skipped"] == {"namespace": 1, "redirect": 2, "disambiguation": 2,
                                  "too_short": 1}
    assert written["pages_read"] == 9 and written["pages_kept"] == 3
    assert written["words"] == sum(len(r["text"].split()) for r in rows)
    assert written["chars"] == sum(len(r["text"]) for r in rows)
    assert written["source"]["kind"] == "wiki_dump" and written["source"]["path"] == str(dump)
    for key in ("time_s", "energy_j", "energy_source"):
        assert written[key] is not None
    assert metrics["pages_kept"] == 3


def test_same_input_same_bytes_across_shards(tmp_path):
    dump = write_dump(tmp_path / "d.xml", articles(7))
    outputs = []
    for run in ("a", "b"):
        main(_dump_cfg(tmp_path / run, dump, "corpus.pages_per_shard=3"))
        pages = tmp_path / run / "data" / "pages"
        outputs.append({p.name: p.read_bytes() for p in sorted(pages.iterdir())})
    assert list(outputs[0]) == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert outputs[0] == outputs[1]
    assert [pq.read_metadata(tmp_path / "a" / "data" / "pages" / n).num_rows
            for n in outputs[0]] == [3, 3, 1]


def test_max_pages_stops_after_that_many_kept(tmp_path):
    dump = write_dump(tmp_path / "d.xml", SKIP_FIXTURE[3:5] + articles(5))
    metrics = main(_dump_cfg(tmp_path, dump, "corpus.max_pages=2"))
    assert metrics["pages_kept"] == 2 and metrics["pages_read"] == 4
    assert read_table(tmp_path / "data" / "pages").column("title").to_pylist() == [
        "Town 1", "Town 2"]


def test_jsonl_source_wikitext_and_plain(tmp_path):
    path = tmp_path / "pages.jsonl"
    lines = [{"title": "Town A", "text": ARTICLE.format(title="Town A"), "id": "a1"},
             {"title": "Town B", "text": "Plain words, " * 12},
             {"title": "Tiny", "text": "Too short."}]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    metrics = main(_cfg(tmp_path, "corpus=jsonl", f"corpus.path={path}"))
    rows = read_table(tmp_path / "data" / "pages").to_pylist()
    assert [(r["id"], r["title"]) for r in rows] == [("a1", "Town A"), ("2", "Town B")]
    assert "[[" not in rows[0]["text"] and "History" in [s["title"] for s in rows[0]["sections"]]
    assert metrics["skipped"]["too_short"] == 1
    main(_cfg(tmp_path, "corpus=jsonl", f"corpus.path={path}", "corpus.markup=plain",
              "corpus.max_pages=1"))
    rows = read_table(tmp_path / "data" / "pages").to_pylist()
    # plain: headings are not parsed, and a paragraph carrying markup is dropped and counted
    assert len(rows) == 1 and rows[0]["text"] == (
        "== History == The town was founded in 1850 by farmers who came from the coast.")
    assert read_json(tmp_path / "metrics" / "prepare.json")["markup_paragraphs_dropped"] == 1


@pytest.mark.parametrize("content, why", [
    ('{"title": "A", "text": "x"}\nnot json\n', r"pages\.jsonl line 2: not JSON"),
    ('{"title": "A"}\n', r"pages\.jsonl line 1: needs string fields 'title' and 'text'"),
])
def test_jsonl_bad_lines(tmp_path, content, why):
    path = tmp_path / "pages.jsonl"
    path.write_text(content)
    with pytest.raises(JouleError, match=why):
        main(_cfg(tmp_path, "corpus=jsonl", f"corpus.path={path}"))


def _fake_datasets(rows=None, error=None):
    calls = []

    def load_dataset(name, config_name, split, streaming):
        calls.append((name, config_name, split, streaming))
        if error:
            raise error
        return iter(rows)

    return types.SimpleNamespace(load_dataset=load_dataset), calls


def test_hf_source_streams_and_respects_max_pages(tmp_path, monkeypatch):
    rows = [{"id": str(i), "url": "u", "title": f"Page {i}",
             "text": f"Page {i} is about things.\nMore words follow here for it.\n\nSecond part."}
            for i in range(5)]
    fake, calls = _fake_datasets(rows)
    monkeypatch.setitem(sys.modules, "datasets", fake)
    metrics = main(_cfg(tmp_path, "corpus=wiki_hf", "corpus.max_pages=3"))
    assert calls == [("wikimedia/wikipedia", "20231101.en", "train", True)]
    rows_out = read_table(tmp_path / "data" / "pages").to_pylist()
    assert [r["title"] for r in rows_out] == ["Page 0", "Page 1", "Page 2"]
    assert rows_out[0]["text"] == ("Page 0 is about things. More words follow here for it.\n\n"
                                   "Second part.")
    assert metrics["source"]["dataset"] == "wikimedia/wikipedia" and metrics["pages_read"] == 3


def test_hf_source_offline_is_a_clear_error(tmp_path, monkeypatch):
    fake, _ = _fake_datasets(error=ConnectionError("no internet"))
    monkeypatch.setitem(sys.modules, "datasets", fake)
    with pytest.raises(JouleError, match=r"cannot stream HF dataset wikimedia/wikipedia"):
        main(_cfg(tmp_path, "corpus=wiki_hf"))


def _old_pages(tmp_path):
    pages = tmp_path / "data" / "pages"
    pages.mkdir(parents=True)
    (pages / "part-00000.parquet").write_bytes(b"older output")
    return pages


@pytest.mark.parametrize("kind", ["truncated_bz2", "malformed", "not_a_dump", "empty_result"])
def test_bad_input_fails_and_leaves_older_pages_untouched(tmp_path, kind):
    pages = _old_pages(tmp_path)
    if kind == "truncated_bz2":
        full = write_dump(tmp_path / "full.xml.bz2", articles(1500)).read_bytes()
        dump = tmp_path / "bad.xml.bz2"
        dump.write_bytes(full[: len(full) // 2])
        why = r"bad\.xml\.bz2: compressed stream ends early .*after \d+ pages read"
    elif kind == "malformed":
        dump = write_dump(tmp_path / "bad.xml", articles(3))
        dump.write_text(dump.read_text().replace("<title>Town 3", "<title>Town 3<"))
        why = r"bad\.xml: malformed or truncated XML after 2 pages read.*line \d+"
    elif kind == "not_a_dump":
        dump = tmp_path / "bad.xml"
        dump.write_text("name,value\na,1\n")
        why = r"bad\.xml is not a MediaWiki XML dump"
    else:
        dump = write_dump(tmp_path / "bad.xml", SKIP_FIXTURE[3:])
        why = r"bad\.xml: no page kept out of 6 read \(skipped: namespace 1, redirect 2"
    with pytest.raises(JouleError, match=why):
        main(_dump_cfg(tmp_path, dump))
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["pages"]  # no temp dir left
    assert [p.name for p in pages.iterdir()] == ["part-00000.parquet"]
    assert (pages / "part-00000.parquet").read_bytes() == b"older output"
    assert not (tmp_path / "metrics" / "prepare.json").exists()


def test_command_line_failure_is_one_error_line_and_exit_1(tmp_path):
    full = write_dump(tmp_path / "full.xml.bz2", articles(1500)).read_bytes()
    dump = tmp_path / "cut.xml.bz2"
    dump.write_bytes(full[: len(full) // 2])
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.prepare", "corpus=wiki_dump", f"corpus.path={dump}",
         f"data_dir={tmp_path}/data", f"metrics_dir={tmp_path}/metrics"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ")
    assert str(dump) in proc.stderr and "pages read" in proc.stderr
    assert not (tmp_path / "data" / "pages").exists()


@pytest.mark.parametrize("override, key", [
    ("corpus.path=/no/such/dump.xml.bz2", "corpus.path=/no/such/dump.xml.bz2: no such file"),
    ("corpus.package=no_such_package_xyz", "corpus.package='no_such_package_xyz' is not"),
    ("corpus.source=nntp", "corpus.source must be one of"),
])
def test_bad_corpus_config(tmp_path, override, key):
    cfg = _cfg(tmp_path, "corpus=wiki_dump", "corpus.path=/no/such/dump.xml.bz2", override)
    if "package" in override:
        cfg.corpus.package_file = "x.xml"
    with pytest.raises(JouleError, match=key.replace("(", r"\(")):
        main(cfg)


def test_every_corpus_config_composes_with_documented_knobs():
    for path in sorted((PROJECT_ROOT / "conf" / "corpus").glob("*.yaml")):
        assert path.read_text().startswith("# `python -m pipeline.prepare"), path.name
        corpus = compose([f"corpus={path.stem}"]).corpus
        for key in ("source", "max_pages", "min_words", "keep_lists", "pages_per_shard"):
            assert key in corpus, (path.name, key)


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """The default config on the real gensim enwiki excerpt (the one slow test: ~5 s CPU)."""
    tmp = tmp_path_factory.mktemp("sample")
    metrics = main(compose([f"data_dir={tmp}/data", f"metrics_dir={tmp}/metrics"]))
    return metrics, read_table(tmp / "data" / "pages").to_pylist()


def test_real_sample_about_a_hundred_articles(sample_run):
    metrics, rows = sample_run
    assert metrics["source"]["package"] == "gensim"
    assert 90 <= metrics["pages_kept"] <= 110 and len(rows) == metrics["pages_kept"]
    assert metrics["pages_read"] == sum(metrics["skipped"].values()) + metrics["pages_kept"]
    assert metrics["skipped"]["redirect"] > 50 and metrics["skipped"]["disambiguation"] > 0
    assert {"Anarchism", "Albedo", "Aristotle"} <= {r["title"] for r in rows}
    assert len({r["id"] for r in rows}) == len(rows)
    # sentences with a template nothing renders (mostly TeX formulas) are dropped and counted
    assert metrics["sentences_dropped_unrendered_template"] >= sum(
        metrics["unrendered_templates_top"].values()) > 0
    assert metrics["disambiguation_by"]["template"] + metrics["disambiguation_by"]["title"] == (
        metrics["skipped"]["disambiguation"])


def test_real_sample_has_no_markup_and_valid_sections(sample_run):
    _, rows = sample_run
    for row in rows:
        for mark in MARKUP + ("<ref", "</", "&nbsp;", "\n\n\n", "[http", "thumb|", "\ue000",
                              "\ue001", "\ue002"):
            assert mark not in row["text"], (row["title"], mark)
        sections = row["sections"]
        assert sections[0]["title"] == "" and sections[0]["level"] == 1
        assert sections[0]["start"] == 0
        ends = 0
        for s in sections:
            assert ends <= s["start"] <= s["end"] <= len(row["text"]), row["title"]
            assert s["level"] >= 1 and not s["title"].startswith("=")
            ends = s["end"]
        for paragraph in row["text"].split("\n\n"):
            assert paragraph == paragraph.strip() and paragraph
