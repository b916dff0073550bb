"""runner=ray writes the same pages and records as runner=local, on a local 2-CPU Ray cluster.

Skipped (with the reason) only where Ray Data is not installed; `make setup` installs it.
"""

from __future__ import annotations

import importlib.util
import itertools
import shutil

import pytest

from joule.config import compose
from joule.errors import JouleError
from joule.io import read_json, read_table
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
    # the actors' CPU time is in the stage's energy window (they are not the driver's children)
    energy = read_json(tmp_path / "ray" / "m" / "prepare.json")["energy"]
    workers_cpu = sum(w["cpu_s"] for w in ray["workers"])
    assert 1 <= len(ray["workers"]) <= 2 and workers_cpu > 0
    assert energy["detail"]["workers_cpu_time_s"] == pytest.approx(workers_cpu, abs=0.01)


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


REWRITE_KEYS = ("pages", "words", "records", "drops", "pages_without_records", "pages_empty",
                "pages_without_entities", "pages_non_latin", "pages_parsed_in_pieces",
                "pages_without_any_record")


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(600)   # generous (a training run beside it slows it down); a hang still fails
def test_rewrite_same_records(tmp_path, sample_dump, ray_cluster):
    """Every default format on 5 pages; blocks of 2 pages over 2 actors, so pages cross actors
    and the driver's multiple_choice must still see them in page order. Then a resume: a run
    whose work dir holds finished blocks redoes only the others and writes the same."""
    from pipeline.rewrite import main

    prepare(tmp_path, "local", sample_dump, "corpus.max_pages=5")   # 3 shards of <= 2 pages
    shutil.copytree(tmp_path / "local" / "pages", tmp_path / "ray" / "pages")
    local = main(cfg(tmp_path, "local"))
    ray_args = ("runner=ray", "runner.pages_per_block=2", "runner.rewrite_actors=2")
    ray = main(cfg(tmp_path, "ray", *ray_args))
    for key in REWRITE_KEYS:
        assert ray[key] == local[key], key
    assert sum(local["records"].values()) > 20 and local["records"]["multiple_choice"] > 0
    assert ray["blocks"] == 3 and ray["blocks_resumed"] == 0
    assert 1 <= len(ray["workers"]) <= 2 and sum(w["pages"] for w in ray["workers"]) == 5
    assert all(w["cpu_s"] > 0 and w["peak_rss_mb"] > 50 for w in ray["workers"])
    energy = read_json(tmp_path / "ray" / "m" / "rewrite.json")["energy"]
    workers_cpu = sum(w["cpu_s"] for w in ray["workers"])
    assert energy["detail"]["workers_cpu_time_s"] == pytest.approx(workers_cpu, abs=0.01)
    assert energy["cpu_time_s"] > workers_cpu              # the driver's own on top
    for name in local["records"]:
        a = read_table(tmp_path / "local" / "records" / name)
        b = read_table(tmp_path / "ray" / "records" / name)
        assert b.equals(a), name                       # same rows, same order
    assert not (tmp_path / "ray" / ".records.ray-work").exists()

    # resume: a killed run left blocks 0 and 2 finished
    from runners import ray_rewrite

    real = ray_rewrite._assemble
    shutil.copytree(tmp_path / "local" / "pages", tmp_path / "again" / "pages")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt
    ray_rewrite._assemble = killed
    try:
        with pytest.raises(KeyboardInterrupt):
            main(cfg(tmp_path, "again", *ray_args))
    finally:
        ray_rewrite._assemble = real
    shutil.rmtree(tmp_path / "again" / ".records.ray-work" / "block-00001")
    assert not (tmp_path / "again" / "records").exists()
    again = main(cfg(tmp_path, "again", *ray_args))
    assert again["blocks_resumed"] == 2 and sum(w["pages"] for w in again["workers"]) == 2
    for key in REWRITE_KEYS:
        assert again[key] == local[key], key
    for name in local["records"]:
        assert read_table(tmp_path / "again" / "records" / name).equals(
            read_table(tmp_path / "local" / "records" / name)), name


def test_rewrite_refuses_more_actors_than_cpus(tmp_path, ray_cluster):
    from pipeline.rewrite import main

    (tmp_path / "ray" / "pages").mkdir(parents=True)
    from joule.io import write_table
    from pipeline.prepare import PAGES_SCHEMA

    write_table(tmp_path / "ray" / "pages" / "part-00000.parquet",
                [{"id": str(i), "title": "t", "text": "x", "sections": []} for i in range(4)],
                schema=PAGES_SCHEMA)
    with pytest.raises(JouleError, match="rewrite_actors=3 needs 3 CPUs"):
        main(cfg(tmp_path, "ray", "runner=ray", "runner.rewrite_actors=3",
                 "runner.pages_per_block=1"))
    assert not (tmp_path / "ray" / "records").exists()


@pytest.mark.timeout(300)
def test_rewrite_llm_requests_from_ray_actors(tmp_path, ray_cluster):
    """The openai backend's requests go out from 2 Ray actors (never more than 2 at the server
    at once, though the backend's own setting is 4 threads); same records as runner=local."""
    from pipeline.rewrite_llm import main
    from tests.llm_server import FakeServer
    from tests.rewrite_fixtures import good_pages, write_pages

    runs = {}
    for name, extra in (("local", ()), ("ray", ("runner=ray", "runner.llm_actors=2"))):
        write_pages(tmp_path / name, good_pages())
        with FakeServer(mode="slow", delay_s=0.2) as srv:
            m = main(cfg(tmp_path, name, "rewrite_llm/backend=openai",
                         f"rewrite_llm.backend.base_url={srv.url}", "rewrite_llm.backend.model=f",
                         "rewrite_llm.backend.concurrency=4", "rewrite_llm.min_passage_chars=50",
                         "rewrite_llm.max_pages=2", *extra))
            runs[name] = (m, srv.requests, srv.max_in_flight)
    (local, n_local, peak_local), (ray, n_ray, peak_ray) = runs["local"], runs["ray"]
    assert n_ray == n_local == ray["requests_sent"] == 8 and peak_local > 2
    assert 1 <= peak_ray <= 2
    assert ray["records"] == local["records"] and ray["drops"] == local["drops"]
    assert sum(ray["records"].values()) > 0
    for style in local["records"]:
        assert read_table(tmp_path / "ray" / "records_llm" / style).equals(
            read_table(tmp_path / "local" / "records_llm" / style)), style
    assert ray["energy_local"]["detail"]["workers_cpu_time_s"] > 0


def test_rewrite_llm_on_ray_refuses_the_in_process_backend(tmp_path):
    from pipeline.rewrite_llm import main
    from tests.rewrite_fixtures import good_pages, write_pages

    write_pages(tmp_path / "ray", good_pages())
    with pytest.raises(JouleError, match="backend=openai"):
        main(cfg(tmp_path, "ray", "runner=ray"))
    assert not (tmp_path / "ray" / "records_llm").exists()
