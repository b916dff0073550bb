"""Held-out evaluation questions (SQuAD v1.1 format), used by evaluate and by decontamination.

Every question of a file is checked: it must have a gold answer. A SQuAD v2.0 file's
unanswerable questions (`is_impossible`, `answers: []`) would be scored as a certain 0 under v1.1
rules, so such a file is refused with one error naming it, never scored silently.

One loader, so the questions that are scored and the questions that curricula are
decontaminated against always come from the same config (`eval=` group).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from omegaconf import DictConfig

from joule.config import project_path
from joule.errors import JouleError


def _squad_rows(data: dict, where: str) -> list[dict]:
    """Rows of a parsed SQuAD file; every question must have a gold answer (see module doc)."""
    rows, unanswerable = [], []
    for article in data["data"]:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                qid = qa["id"]
                answers = [a["text"] for a in qa.get("answers") or []]
                if qa.get("is_impossible") or not answers:
                    unanswerable.append(str(qid))
                    continue
                if not all(isinstance(a, str) and a.strip() for a in answers):
                    raise JouleError(f"{where}: question {qid} has an empty gold answer")
                rows.append({"id": qid, "title": article.get("title", ""),
                             "context": para["context"], "question": qa["question"],
                             "answers": answers})
    if unanswerable:
        kind = "SQuAD v2.0 " if str(data.get("version", "")).startswith("v2") else ""
        raise JouleError(
            f"{where}: {len(unanswerable)} {kind}question(s) without a gold answer (e.g. id "
            f"{unanswerable[0]}): joule scores SQuAD v1.1 rules, where every question has an "
            "answer; an unanswerable question would be scored as a certain 0. Remove them, or "
            "use a v1.1 file")
    ids = [r["id"] for r in rows]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise JouleError(f"{where}: question id {dup} appears more than once")
    return rows


def _from_squad_json(path: Path) -> list[dict]:
    try:
        return _squad_rows(json.loads(path.read_text(encoding="utf-8")), str(path))
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise JouleError(f"{path} is not a SQuAD v1.1-format file ({exc!r})") from exc


def _from_hub(cfg: DictConfig) -> list[dict]:
    import datasets

    ds = datasets.load_dataset(cfg.hf_dataset, cfg.hf_config, split=cfg.hf_split)
    return [{"id": r["id"], "title": r.get("title", ""), "context": r["context"],
             "question": r["question"], "answers": list(r["answers"]["text"])} for r in ds]


def load_eval_set(cfg: DictConfig, sample: bool = True) -> list[dict]:
    """Questions of the `eval` config: dicts with id, title, context, question, answers.

    Reads `cfg.path` (relative to the project root: `config.project_path`) if it exists, else
    loads `cfg.hf_dataset` from the hub. With `sample`, keeps a seeded sample of
    `cfg.max_questions` (seed 0, fixed so that every curriculum and checkpoint is scored on the
    same questions), in file order.
    """
    tried = []
    rows = None
    if cfg.get("path"):
        path = project_path(cfg.path)
        if path.is_file():
            rows = _from_squad_json(path)
        else:
            tried.append(f"file {path} (not found)")
    if rows is None and cfg.get("hf_dataset"):
        try:
            rows = _from_hub(cfg)
        except Exception as exc:  # any hub/network failure: report what was tried, once
            tried.append(f"hub dataset {cfg.hf_dataset} ({type(exc).__name__}: {exc})"[:300])
    if rows is None:
        tried = tried or ["nothing: set eval.path or eval.hf_dataset"]
        raise JouleError(f"no evaluation set for eval={cfg.name}: tried " + "; ".join(tried))
    if not rows:
        raise JouleError(f"evaluation set eval={cfg.name} is empty")
    if sample and cfg.get("max_questions") and cfg.max_questions < len(rows):
        keep = sorted(random.Random(0).sample(range(len(rows)), cfg.max_questions))
        rows = [rows[i] for i in keep]
    return rows
