"""runner=ray writes the same pages and records as runner=local, on a local 2-CPU Ray cluster.

Skipped (with the reason) only where Ray Data is not installed; `make setup` installs it.
"""

from __future__ import annotations

import importlib.util
import itertools

import pytest

from joule.config import compose
from joule.errors import JouleError
from joule.io import read_table
from tests.test_multistream import write_multistream
from wiki.sources import open_source

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                                reason="Ray Data not installed (pip install -e '.[ray]')")

N_RAW = 80   # raw pages of the shipped sample: ~30 articles, the rest redirects and such


@pytest.fixture(scope="module")
def ray_cluster():
    """One local cluster of 2 CPUs for the module (the runner joins it rather than start one)."""
    from runners.cluster import import_ray

    ray = import_ray()
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def sample_dump(tmp_path_factory):
    """The first raw pages of the shipped enwiki sample, rewritten as a multistream dump of 8
    pages per stream (+ index), so prepare has several ranges to read in parallel."""
    source = open_source(compose([]).corpus)
    raw = list(itertools.islice(source.pages(), N_RAW))
    pages = [{"title": p.title, "text": p.text, "page_id": int(p.id), "ns": p.ns,
              "redirect": "x" if p.redirect else None} for p in raw]
    return write_multistream(tmp_path_factory.mktemp("dump"), pages, per_stream=8)


def cfg(tmp_path, name, *extra):
    return compose([f"data_dir={tmp_path / name}", f"metrics_dir={tmp_path / name / 'm'}",
                    "energy.use_zeus=false", *extra])


def prepare(tmp_path, name, dump, *extra):
    from pipeline.prepare import main

    return main(cfg(tmp_path, name, "corpus=wiki_dump", f"corpus.path={dump}",
                    "corpus.pages_per_shard=2", *extra))


COUNTS = ("pages_read", "pages_kept", "skipped", "words", "chars", "markup_paragraphs_dropped")


def test_prepare_same_pages_in_the_same_order(tmp_path, sample_dump, ray_cluster):
    local = prepare(tmp_path, "local", sample_dump)
    ray = prepare(tmp_path, "ray", sample_dump, "runner=ray", "runner.streams_per_range=3")
    assert {k: ray[k] for k in COUNTS} == {k: local[k] for k in COUNTS}
    assert ray["ranges"] == 4 and ray["ranges_resumed"] == 0 and local["pages_kept"] >= 8
    assert read_table(tmp_path / "ray" / "pages").equals(read_table(tmp_path / "local" / "pages"))
    assert not (tmp_path / "ray" / ".pages.ray-work").exists()


def test_prepare_resumes_at_range_granularity(tmp_path, sample_dump, ray_cluster):
    good = sample_dump.read_bytes()
    from wiki.dump import dump_ranges

    last = dump_ranges(sample_dump, 1)[-1]
    bad = bytearray(good)
    bad[last.start + 40:last.start + 60] = b"\0" * 20       # corrupt the last range, same size
    sample_dump.write_bytes(bytes(bad))
    try:
        with pytest.raises(Exception, match="corrupt|malformed|Invalid"):
            prepare(tmp_path, "ray", sample_dump, "runner=ray", "runner.streams_per_range=1",
                    "runner.prepare_tasks=1")
    finally:
        sample_dump.write_bytes(good)
    assert not (tmp_path / "ray" / "pages").exists()                   # nothing half-written
    done = sorted((tmp_path / "ray" / ".pages.ray-work").glob("part-*/counts.json"))
    assert len(done) == 9                                               # ranges 0-8 kept
    again = prepare(tmp_path, "ray", sample_dump, "runner=ray", "runner.streams_per_range=1")
    assert again["ranges"] == 10 and again["ranges_resumed"] == 9
    local = prepare(tmp_path, "local", sample_dump)
    assert read_table(tmp_path / "ray" / "pages").equals(read_table(tmp_path / "local" / "pages"))
    assert {k: again[k] for k in COUNTS} == {k: local[k] for k in COUNTS}


def test_prepare_refuses_max_pages(tmp_path, sample_dump):
    with pytest.raises(JouleError, match="max_pages"):
        prepare(tmp_path, "ray", sample_dump, "runner=ray", "corpus.max_pages=3")


def test_rewrite_refuses_the_ray_runner(tmp_path):
    from pipeline.rewrite import main

    with pytest.raises(JouleError, match="runner=ray runs prepare only"):
        main(cfg(tmp_path, "ray", "runner=ray"))
    assert not (tmp_path / "ray" / "records").exists()
