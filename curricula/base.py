"""What every curriculum step is built from: a step over records, a filter, and the run context.

datatrove's shape, cut down to what curation needs: a step takes the records in order and yields
the ones it keeps; every record it does not keep goes through `Step.drop` with a reason, so a run
leaves an audit trail (`excluded.parquet`) and per-step counts. Steps get their knobs from config
(`_target_:` lines in `conf/curricula/*.yaml`) and the run's shared inputs (seed, tokenizer,
budget, eval set) from the `Context`, so the same step class works in tests and in the stage.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from omegaconf import DictConfig

from joule.errors import JouleError
from joule.formats import record_tokens


@dataclass
class Context:
    """Inputs shared by the steps of one curriculum run.

    seed: the run's seed (sampling, shuffling, MinHash permutations).
    token_budget: `experiment.token_budget`, in training tokens (prompt + answer).
    tokenizer: the base model's tokenizer, for `tokens`.
    eval_cfg: the `eval` config group, for decontamination (`eval_set`).
    """

    seed: int = 0
    token_budget: int | None = None
    tokenizer: object = None
    eval_cfg: DictConfig | None = None
    _tokens: dict[str, int] = field(default_factory=dict, repr=False)
    _eval: list[dict] | None = field(default=None, repr=False)

    def tokens(self, record: dict) -> int:
        """Training tokens of a record (`joule.formats.record_tokens`), cached by record id
        (ids are hashes of the record's content, so equal ids mean equal token counts)."""
        key = record["id"]
        if key not in self._tokens:
            if self.tokenizer is None:
                raise JouleError("counting tokens needs the base model's tokenizer (model.dir)")
            try:
                self._tokens[key] = record_tokens(record, self.tokenizer)
            except (KeyError, ValueError) as exc:
                raise JouleError(f"record {key} (format {record.get('format')!r}) cannot be "
                                 f"formatted for training: {exc!r}") from exc
        return self._tokens[key]

    def eval_set(self) -> list[dict]:
        """Every held-out question of the eval file (not only the scored sample)."""
        if self._eval is None:
            if self.eval_cfg is None:
                raise JouleError("decontamination needs the evaluation set (config group `eval`)")
            from joule.evalset import load_eval_set

            self._eval = load_eval_set(self.eval_cfg, sample=False)
        return self._eval


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Step:
    """One stage of a curriculum. Subclasses implement `run` and call `drop` for each record
    they do not pass on; `info` holds step-specific figures that go into the metrics."""

    def __init__(self, name: str | None = None):
        self.name = name or _snake(type(self).__name__)
        self.dropped: list[tuple[dict, str, str]] = []   # (record, reason, detail)
        self.merged = 0          # records folded into another record this step yields
        self.info: dict = {}

    def reset(self) -> None:
        """Forget the drops and figures of a previous run (a step object may be run again)."""
        self.dropped = []
        self.merged = 0
        self.info = {}

    def drop(self, record: dict, reason: str, detail: str = "") -> None:
        """Record that `record` leaves the curriculum here. `reason` is a category (counted in
        the metrics); `detail` says what exactly (kept per record in excluded.parquet)."""
        self.dropped.append((record, reason, detail))

    def run(self, records: list[dict], ctx: Context) -> Iterator[dict]:
        """Yield the records kept, in the order the next step should see them."""
        raise NotImplementedError


class Filter(Step):
    """A step that judges records one at a time: `filter` returns True to keep a record, or
    False / (False, reason) / (False, reason, detail) to drop it."""

    def filter(self, record: dict, ctx: Context) -> bool | tuple:
        raise NotImplementedError

    def run(self, records: Iterable[dict], ctx: Context) -> Iterator[dict]:
        for record in records:
            verdict = self.filter(record, ctx)
            if verdict is True:
                yield record
                continue
            if verdict is False:
                verdict = (False, self.name)
            _, reason, *detail = verdict
            self.drop(record, reason, detail[0] if detail else "")
