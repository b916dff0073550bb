"""The rewrite stage end to end on tiny fixture pages: outputs, metrics, determinism, odd input."""

from __future__ import annotations

import pytest

from joule.config import compose
from joule.errors import JouleError
from joule.formats import prompt_and_answer
from joule.io import read_json, read_table
from pipeline.rewrite import main
from tests.rewrite_fixtures import good_pages, odd_pages, write_pages

FORMATS = ["cloze", "multiple_choice", "key_facts", "raw"]


def config(tmp_path, *extra):
    return compose([f"data_dir={tmp_path / 'data'}", f"metrics_dir={tmp_path / 'metrics'}",
                    f"rewriter=[{','.join(FORMATS)}]", "energy.use_zeus=false", *extra])


def test_stage_writes_every_format_and_metrics(tmp_path):
    write_pages(tmp_path / "data", good_pages())
    main(config(tmp_path))
    metrics = read_json(tmp_path / "metrics" / "rewrite.json")
    for name in FORMATS:
        table = read_table(tmp_path / "data" / "records" / name)
        assert table.num_rows == metrics["records"][name] > 0, name
        assert set(table.column_names) >= {"id", "page_id", "title", "format", "meta"}
        assert name in metrics["drops"] and name in metrics["pages_without_records"]
        # What training reads back from Parquet still formats (lists stay lists).
        for record in table.to_pylist():
            pair = prompt_and_answer(record)
            assert (pair is None) == (name == "raw") and (pair is None or all(pair))
    assert metrics["pages"] == 2 and metrics["words"] > 50 and metrics["words_per_s"] > 0
    assert {"time_s", "energy_j", "energy_source"} <= set(metrics)


def test_same_seed_same_bytes(tmp_path):
    write_pages(tmp_path / "data", good_pages())
    outputs = []
    for _ in range(2):
        main(config(tmp_path))
        outputs.append({name: (tmp_path / "data/records" / name / "part-00000.parquet")
                        .read_bytes() for name in FORMATS})
    assert outputs[0] == outputs[1]
    main(config(tmp_path, "seed=1"))
    other = (tmp_path / "data/records/multiple_choice/part-00000.parquet").read_bytes()
    assert other != outputs[0]["multiple_choice"]


def test_odd_pages_do_not_crash_and_are_counted(tmp_path):
    write_pages(tmp_path / "data", good_pages() + odd_pages())
    metrics = main(config(tmp_path, "rewrite.max_chars_per_parse=50000"))
    assert metrics["pages"] == 8
    assert metrics["pages_empty"] == 1
    assert metrics["pages_parsed_in_pieces"] == 1
    assert metrics["pages_non_latin"] == 1
    assert metrics["pages_without_entities"] >= 3
    assert metrics["pages_without_any_record"] >= 3
    raw = read_table(tmp_path / "data/records/raw").to_pylist()
    long_chunks = [r for r in raw if r["page_id"] == "l"]
    assert sum(len(r["text"]) for r in long_chunks) > 190_000
    cloze = read_table(tmp_path / "data/records/cloze").to_pylist()
    assert not [r for r in cloze if r["page_id"] == "z"]    # no English clozes from Chinese


def test_missing_spacy_pipeline_names_it(tmp_path):
    write_pages(tmp_path / "data", good_pages())
    with pytest.raises(JouleError, match="no_such_pipeline"):
        main(config(tmp_path, "rewrite.spacy_model=no_such_pipeline"))
    assert not (tmp_path / "data" / "records").exists()


def test_missing_pages_name_the_directory(tmp_path):
    with pytest.raises(JouleError, match="pages"):
        main(config(tmp_path))


@pytest.mark.integration
def test_two_processes_give_the_same_bytes(tmp_path):
    """spaCy's worker processes parse; the records must not depend on how many there are."""
    outputs = []
    for n in (1, 2):
        root = tmp_path / str(n)
        write_pages(root / "data", good_pages() + odd_pages())
        main(config(root, f"rewrite.n_process={n}", "rewrite.max_chars_per_parse=50000"))
        outputs.append({name: (root / "data/records" / name / "part-00000.parquet").read_bytes()
                        for name in FORMATS})
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("override", ["rewriter.cloze._target_=rewriters.nope.Nope",
                                      "+rewriter.cloze.no_such_knob=1"])
def test_bad_rewriter_config_names_the_key(tmp_path, override):
    write_pages(tmp_path / "data", good_pages())
    with pytest.raises(JouleError, match="rewriter.cloze"):
        main(config(tmp_path, override))
