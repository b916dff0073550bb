"""`rewrite` on Ray Data: pages are read from their Parquet shards as blocks and parsed by spaCy
in a pool of actors (`map_batches` with a callable class: each actor loads the pipeline and the
rewriters once); the actors also run every rewriter that needs no other page. The stage's own
loop then runs in the driver on the (page, doc) pairs, in page order (Ray Data keeps block
order): corpus-level rewriters (those with a `finish`, e.g. multiple_choice, whose distractor
pool and answer positions depend on every earlier page) run there, and the others hand back
what their actor made. So the records are the ones `runner=local` makes, byte for byte.
"""

from __future__ import annotations

import pickle
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
from omegaconf import DictConfig, OmegaConf

from joule.errors import JouleError
from rewriters.base import Rewriter
from runners import positive
from runners.cluster import cluster

PAGE_COLUMNS = ["id", "title", "text", "sections"]


def is_per_page(rewriter: Rewriter) -> bool:
    """A rewriter whose records depend on its page alone: it keeps no corpus state, which the
    interface signals by not overriding `finish`."""
    return type(rewriter).finish is Rewriter.finish


class _Precomputed(Rewriter):
    """Stands in the driver for a per-page rewriter that ran in an actor: `rewrite` returns the
    records the actor made for the page the driver is on, and `drops` add up the actor's."""

    def __init__(self, real: Rewriter):
        super().__init__(real.seed)
        self.name, self.version = real.name, real.version
        self.records: list[dict] = []

    def rewrite(self, page: dict, doc) -> Iterator[dict]:
        records, self.records = self.records, []
        return iter(records)


class _ParseAndRewrite:
    """A Ray actor: spaCy and the per-page rewriters loaded once; a batch of pages in, one row
    per page out (the page, its Doc as bytes, each per-page rewriter's records and drops)."""

    def __init__(self, cfg_yaml: str, names: list[str], parse: Callable,
                 load_rewriters: Callable, load_spacy: Callable):
        cfg = OmegaConf.create(cfg_yaml)
        self.rw = cfg.rewrite
        self.nlp = load_spacy(self.rw.spacy_model)
        self.rewriters = {n: r for n, r in load_rewriters(cfg).items() if n in names}
        self.parse = parse

    def __call__(self, batch: pa.Table) -> pa.Table:
        stats: Counter = Counter()
        rows = {"page": [], "doc": [], "records": [], "stats": []}
        pairs = self.parse(self.nlp, iter(batch.select(PAGE_COLUMNS).to_pylist()), stats,
                           batch_size=int(self.rw.batch_size), n_process=1,
                           max_chars=int(self.rw.max_chars_per_parse))
        for page, doc in pairs:
            made = {}
            for name, rewriter in self.rewriters.items():
                before = Counter(rewriter.drops)
                made[name] = (list(rewriter.rewrite(page, doc)), rewriter.drops - before)
            rows["page"].append(pickle.dumps(page))
            rows["doc"].append(doc.to_bytes(exclude=["tensor", "user_data"]))
            rows["records"].append(pickle.dumps(made))
            rows["stats"].append(pickle.dumps(stats))
            stats = Counter()   # a batch's counts ride on its first row
        return pa.table({k: pa.array(v, pa.binary()) for k, v in rows.items()})


def ray_parsed_pages(cfg: DictConfig, nlp, pages_dir: Path, stats: Counter,
                     rewriters: dict[str, Rewriter], *, parse: Callable, load_rewriters: Callable,
                     load_spacy: Callable) -> Iterator[tuple[dict, object]]:
    """(page, doc) pairs of the Parquet pages under `pages_dir`, in page order, parsed by Ray
    actors; the per-page rewriters of `rewriters` are replaced in place by stand-ins that return
    their actors' records (so the stage's loop and metrics run unchanged). `parse` is the
    stage's `parsed_pages`; `nlp` (the driver's) supplies the vocabulary to rebuild Docs."""
    from spacy.tokens import Doc

    actors = positive(cfg, "rewrite_actors")
    batch_size = positive(cfg, "batch_size")
    files = sorted(str(f) for f in Path(pages_dir).glob("*.parquet"))
    if not files:
        raise JouleError(f"no Parquet files in {pages_dir} (has the stage that writes it run?)")
    names = [n for n, r in rewriters.items() if is_per_page(r)]
    for name in names:
        rewriters[name] = _Precomputed(rewriters[name])
    cfg_yaml = OmegaConf.to_yaml(cfg, resolve=True)
    with cluster(cfg.runner) as ray:
        ds = ray.data.read_parquet(files, columns=PAGE_COLUMNS)
        ds = ds.map_batches(_ParseAndRewrite, batch_size=batch_size, batch_format="pyarrow",
                            concurrency=actors, num_cpus=1,
                            fn_constructor_args=(cfg_yaml, names, parse, load_rewriters,
                                                 load_spacy))
        for row in ds.iter_rows():
            stats.update(pickle.loads(row["stats"]))
            for name, (records, drops) in pickle.loads(row["records"]).items():
                rewriters[name].records = records
                rewriters[name].drops.update(drops)
            yield pickle.loads(row["page"]), Doc(nlp.vocab).from_bytes(row["doc"])
