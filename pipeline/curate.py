"""Stage `curate`: records of every format -> one curriculum's training set, in training order.

`python -m pipeline.curate curriculum=<name>` reads `<data_dir>/<root>/*/` for every record root
the curriculum names in `records:` (default `[records]`, the spaCy rewrite's; the LLM rewrite
writes `records_llm`), runs the steps of
`conf/curricula/<name>.yaml` (see `curricula/`), and writes
- `<data_dir>/curricula/<name>/train.parquet`: the records kept, in training order, with the
  union of the formats' columns (null where a format lacks a field);
- `<data_dir>/curricula/<name>/excluded.parquet`: every dropped record with `step`, `reason`
  (a category) and `detail`;
- `<metrics_dir>/curate/<name>.json`: records and tokens in/out per step, drops per step and
  reason, tokens per format, the budget and whether it was met.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from omegaconf import DictConfig

from curricula.base import Context
from curricula.curriculum import build_steps, per_format, run_steps
from joule.config import curriculum_config, require, run
from joule.errors import JouleError
from joule.io import atomic_dir, read_table, write_table
from joule.records import COMMON_FIELDS
from pipeline.stage import stage_run

AUDIT_FIELDS = (("step", pa.string()), ("reason", pa.string()), ("detail", pa.string()))


def load_records(records_dir: Path | list[Path]) -> tuple[list[dict], pa.Schema]:
    """Every record under `<root>/<format>/` of each root (one dir or a list), roots in the
    order given, formats in name order, rows in file order, and the union schema of their
    tables (common columns first)."""
    roots = [records_dir] if isinstance(records_dir, Path) else list(records_dir)
    dirs = []
    for root in roots:
        found = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        if not found:
            raise JouleError(f"no record directories under {root} (run the rewrite stage "
                             "that writes it)")
        dirs += found
    records_dir = ", ".join(str(r) for r in roots)
    tables = [read_table(d) for d in dirs]
    for d, table in zip(dirs, tables, strict=True):
        missing = [c for c in COMMON_FIELDS if c not in table.column_names]
        if missing:
            raise JouleError(f"records in {d} lack the columns {missing}")
    try:
        schema = pa.unify_schemas([t.schema for t in tables])
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise JouleError(f"record tables under {records_dir} disagree on a column type: {exc}"
                         ) from exc
    schema = pa.schema([schema.field(c) for c in COMMON_FIELDS]
                       + [f for f in schema if f.name not in COMMON_FIELDS])
    records = [row for table in tables for row in table.to_pylist()]
    if not records:
        raise JouleError(f"the record tables under {records_dir} are empty")
    return records, schema.remove_metadata()


def load_tokenizer(model_dir: str | Path):
    """The base model's tokenizer from `model.dir` (written by the base_model stage)."""
    from transformers import AutoTokenizer

    if not Path(model_dir).is_dir():
        raise JouleError(f"no base model at model.dir={model_dir} (run the base_model stage)")
    try:
        return AutoTokenizer.from_pretrained(str(model_dir))
    except (OSError, ValueError) as exc:
        raise JouleError(f"cannot load the tokenizer of model.dir={model_dir}: {exc}") from exc


def with_made_fields(schema: pa.Schema, records: list[dict]) -> pa.Schema:
    """`schema` plus the fields of records a step made (e.g. `qa_passage`'s `questions`), with
    the Arrow types of their values; the input tables' fields keep their types."""
    audit = {n for n, _ in AUDIT_FIELDS}
    made = sorted({k for r in records for k in r} - set(schema.names) - audit)
    if not made:
        return schema
    inferred = pa.Table.from_pylist([{k: r.get(k) for k in made} for r in records]).schema
    return pa.schema(list(schema) + list(inferred))


def main(cfg: DictConfig) -> dict:
    """Build curriculum `cfg.curriculum`; returns the metrics written."""
    name = require(cfg, "curriculum")
    curriculum = curriculum_config(cfg, name)
    budget = int(require(cfg, "experiment.token_budget"))
    with stage_run(cfg, "curate", f"curate/{name}.json") as stage:
        steps = build_steps(curriculum)
        roots = list(curriculum.get("records") or ["records"])   # record roots under data_dir
        records, schema = load_records([Path(cfg.data_dir) / r for r in roots])
        ctx = Context(seed=int(cfg.seed), token_budget=budget,
                      tokenizer=load_tokenizer(require(cfg, "model.dir")), eval_cfg=cfg.eval)
        result = run_steps(records, steps, ctx)
        schema = with_made_fields(schema, result.records + result.excluded)

        with atomic_dir(Path(cfg.data_dir) / "curricula" / name) as out:
            write_table(out / "train.parquet", result.records, schema=schema)
            write_table(out / "excluded.parquet", result.excluded,
                        schema=pa.schema(list(schema) + [pa.field(n, t) for n, t in AUDIT_FIELDS]))

        tokens_out = sum(ctx.tokens(r) for r in result.records)
        drops = {s["step"]: s["drops_by_reason"] for s in result.steps if s["dropped"]}
        budget_step = next((s for s in reversed(result.steps) if "budget_met" in s), None)
        stage.metrics.update(
            curriculum=name, steps=result.steps, drops=drops,
            records_in=len(records), records_out=len(result.records),
            records_excluded=len(result.excluded),
            records_merged=sum(s["merged"] for s in result.steps),   # folded into another record
            tokens_in=sum(ctx.tokens(r) for r in records), tokens_out=tokens_out,
            per_format=per_format(result.records, ctx),
            budget=budget, budget_met=tokens_out == budget, short_by_tokens=budget - tokens_out,
        )
        stage.summary.update(wrote=Path(cfg.data_dir) / "curricula" / name,
                             records=f"{len(records)} -> {len(result.records)}",
                             tokens=f"{tokens_out} of budget {budget}")
        if tokens_out != budget:
            stage.metrics["short_reason"] = (
                budget_step.get("short_reason") if budget_step and budget_step.get("short_reason")
                else "the curriculum has no token_budget step")
    return stage.metrics


if __name__ == "__main__":
    run(main)
