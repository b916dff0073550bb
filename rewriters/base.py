"""The rewriter interface: a parsed page in, records of one format out, drops counted by reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from joule.records import dump_meta, record_id


class Rewriter:
    """Base class. Subclasses set `name` and `version` and implement `rewrite`.

    The rewrite stage parses every page once with spaCy and hands each (page, doc) pair to every
    configured rewriter, in page order. Knobs arrive as keyword arguments from
    `conf/rewriter/<name>.yaml`. A rewriter that needs the whole corpus (e.g. distractors drawn
    from other pages) may hold state between pages and emit the rest in `finish`.
    """

    name: str = ""
    version: int = 1
    # True when a page's records depend on earlier pages (state kept between pages): such a
    # rewriter splits `rewrite` into `analyse` (the page alone) and `emit` (in page order), so a
    # runner can analyse pages anywhere and emit them in one ordered pass.
    corpus_wide: bool = False

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.drops: Counter[str] = Counter()   # reason -> candidates dropped
        self.pages_without_records = 0

    @property
    def format(self) -> str:
        """The versioned format name that goes into every record, e.g. `qa_extractive.v1`."""
        return f"{self.name}.v{self.version}"

    def rewrite(self, page: dict, doc) -> Iterator[dict]:
        """Records made from one page. `page` has id, title, text, sections; `doc` is spaCy's
        parse of `page["text"]` (character offsets of `doc` index into it)."""
        raise NotImplementedError

    def analyse(self, page: dict, doc) -> object:
        """What `emit` needs of one page, from the page alone: a picklable value (no spaCy
        objects). Default: the page's records (a per-page rewriter's `emit` just yields them)."""
        return list(self.rewrite(page, doc))

    def emit(self, page: dict, analysis) -> Iterator[dict]:
        """The page's records from `analyse`'s value; called in page order. `page` needs only
        id and title. A corpus-wide rewriter's `rewrite` must equal `emit(page, analyse(...))`."""
        return iter(analysis)

    def finish(self) -> Iterator[dict]:
        """Records that could only be made once every page was seen (default: none)."""
        return iter(())

    def drop(self, reason: str) -> None:
        """Count one candidate dropped for `reason`."""
        self.drops[reason] += 1

    def make_record(self, page: dict, fields: dict, meta: dict) -> dict:
        """A record with the common columns; the id hashes the format, page and content."""
        content = [fields[k] for k in sorted(fields)]
        return {
            "id": record_id(self.format, page["id"], *content),
            "page_id": str(page["id"]),
            "title": page["title"],
            "format": self.format,
            **fields,
            "meta": dump_meta(meta),
        }
