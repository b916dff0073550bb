"""reporting/transfer.py: per-article F1 and the spread expected on other articles."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from joule.errors import JouleError
from reporting.transfer import article_of, main, per_article_f1, transfer_spread


def squad(path, articles):
    data = [{"title": title, "paragraphs": [{"context": "c", "qas": [
        {"id": qid, "question": "q?", "answers": [{"text": "c", "answer_start": 0}]}
        for qid in ids]}]} for title, ids in articles.items()]
    path.write_text(json.dumps({"version": "1.1", "data": data}))
    return path


def test_equal_articles_give_no_spread_and_unequal_ones_do():
    same = {f"a{i}": [50.0, 50.0] for i in range(5)}
    flat = transfer_spread(same, k=3, samples=200)
    assert flat["f1"] == 50.0 and flat["article_f1_sd"] == 0.0
    assert flat["new_articles_diff_95"] == [0.0, 0.0]
    mixed = {"a": [0.0, 0.0], "b": [100.0, 100.0], "c": [50.0, 50.0]}
    wide = transfer_spread(mixed, k=2, samples=500)
    lo, hi = wide["new_articles_diff_95"]
    assert lo < -10 and hi > 10 and wide["article_f1_range"] == [0.0, 100.0]
    # more new articles -> a narrower range
    lo4, hi4 = transfer_spread(mixed, k=20, samples=500)["new_articles_diff_95"]
    assert hi4 - lo4 < hi - lo


def test_predictions_are_grouped_by_article_and_unknown_ids_refused(tmp_path):
    from joule.evalset import load_eval_set

    path = squad(tmp_path / "e.json", {"A": ["1", "2"], "B": ["3"]})
    articles = article_of(load_eval_set(OmegaConf.create({"path": str(path)}), sample=False))
    preds = [{"id": "1", "f1": 1.0}, {"id": "2", "f1": 0.5}, {"id": "3", "f1": 0.0}]
    assert per_article_f1(preds, articles) == {"A": [100.0, 50.0], "B": [0.0]}
    with pytest.raises(JouleError, match="'9'"):
        per_article_f1([{"id": "9", "f1": 1.0}], articles)
    with pytest.raises(JouleError, match="2 articles"):
        transfer_spread({"A": [1.0]}, k=3)


def test_cli_prints_one_line_and_errors_in_one_line(tmp_path, capsys):
    path = squad(tmp_path / "e.json", {"A": ["1"], "B": ["2"]})
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"id": "1", "f1": 1.0}\n{"id": "2", "f1": 0.0}\n')
    main([str(preds), "--k", "2", f"eval.path={path}"])
    assert "F1 50.0 on 2 questions of 2 articles" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([str(preds), f"eval.path={tmp_path / 'missing.json'}", "eval.hf_dataset=null"])
    assert capsys.readouterr().err.startswith("error: ")
