"""Near-duplicate removal with MinHash LSH (datasketch) over word shingles."""

from __future__ import annotations

from collections.abc import Iterator

from datasketch import MinHash, MinHashLSH

from curricula.base import Context, Step
from curricula.text import identity_text, normalise_words
from joule.errors import JouleError
from joule.records import format_name


def shingles(words: list[str], size: int) -> set[str]:
    """Word n-grams of `size` (the whole text when it is shorter than that)."""
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + size]) for i in range(len(words) - size + 1)}


class NearDedup(Step):
    """Drop a record whose shingle set is near an earlier kept record's (estimated Jaccard
    similarity >= `threshold`); the first one in input order is kept.

    threshold: Jaccard similarity at or above which two records are near-duplicates (0-1).
    num_perm: MinHash permutations (more: better estimate, slower).
    shingle_size: words per shingle (smaller catches paraphrases of short texts better).
    within_format: compare only records of the same format (a cloze and a question made from
        one sentence are different exercises, not duplicates).
    seed: MinHash permutation seed (null: the run's seed).
    Records are compared on their identity text (`curricula.text.IDENTITY_FIELDS`). LSH finds
    candidates; each candidate is then checked with its MinHash Jaccard estimate.
    """

    def __init__(self, threshold: float = 0.8, num_perm: int = 128, shingle_size: int = 3,
                 within_format: bool = True, seed: int | None = None, name: str | None = None):
        super().__init__(name)
        if not 0 < threshold <= 1:
            raise JouleError(f"near_dedup.threshold must be in (0, 1], got {threshold}")
        self.threshold, self.num_perm, self.shingle_size = threshold, num_perm, shingle_size
        self.within_format, self.seed = within_format, seed

    def run(self, records: list[dict], ctx: Context) -> Iterator[dict]:
        seed = ctx.seed if self.seed is None else self.seed
        sets = [shingles(normalise_words(identity_text(r)), self.shingle_size) for r in records]
        # bulk() shares one set of permutations: much faster than a MinHash per record.
        hashes = MinHash.bulk([[s.encode("utf-8") for s in sorted(x)] for x in sets],
                              num_perm=self.num_perm, seed=seed)
        indexes: dict[str, MinHashLSH] = {}
        kept: dict[str, tuple[str, MinHash]] = {}   # LSH key -> (record id, minhash)
        for i, (record, shingle_set, mh) in enumerate(zip(records, sets, hashes, strict=True)):
            if not shingle_set:      # no words: nothing to compare (length filters handle it)
                yield record
                continue
            group = format_name(record["format"]) if self.within_format else ""
            if group not in indexes:      # (building an index solves for its bands: slow)
                indexes[group] = MinHashLSH(threshold=self.threshold, num_perm=self.num_perm)
            lsh = indexes[group]
            best = None
            for key in sorted(lsh.query(mh)):
                similarity = mh.jaccard(kept[key][1])
                if similarity >= self.threshold and (best is None or similarity > best[1]):
                    best = (kept[key][0], similarity)
            if best is not None:
                self.drop(record, "near_duplicate",
                          f"of {best[0]} (estimated Jaccard {best[1]:.2f})")
                continue
            key = str(i)
            lsh.insert(key, mh)
            kept[key] = (record["id"], mh)
            yield record
