"""The SQuAD v1.1 metric against cases worked out by hand (the working is in the comments)."""

from __future__ import annotations

import pytest

from evaluation.squad import bootstrap_ci, exact_match, f1_score, normalize_answer, score


@pytest.mark.parametrize(("text", "expected"), [
    # lower -> "the  eiffel-tower!"; punctuation out -> "the  eiffeltower" (hyphen joins, as in
    # the official script); article out -> " eiffeltower"; squash -> "eiffeltower"
    ("The  Eiffel-Tower!", "eiffeltower"),
    # "an", "a" are whole-word articles; "day" stays
    ("An apple a day", "apple day"),
    # "theatre" and "another" only contain an article: word boundaries keep them
    ("Theatre, another one", "theatre another one"),
    # tabs and newlines squash to one space
    ("  1,000\tmiles \n", "1000 miles"),
])
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


def test_f1_hand_worked():
    # pred "the cat sat on the mat" -> [cat, sat, on, mat] (4); gold "a cat on a mat" -> [cat, on,
    # mat] (3); shared 3: P = 3/4, R = 3/3, F1 = 2 * 0.75 * 1 / 1.75 = 6/7
    assert f1_score("the cat sat on the mat", ["a cat on a mat"]) == pytest.approx(6 / 7)
    # tokens counted with multiplicity: [dog, dog, dog] vs [dog, cat] share 1;
    # P = 1/3, R = 1/2, F1 = 2 * (1/6) / (5/6) = 2/5
    assert f1_score("dog dog dog", ["dog cat"]) == pytest.approx(0.4)
    # nothing shared -> 0
    assert f1_score("Lyon", ["Marseille"]) == 0.0


def test_max_over_gold_answers():
    # the second gold matches exactly; the first only partly (P = 1, R = 1/2, F1 = 2/3)
    golds = ["Paris, France", "paris"]
    assert exact_match("Paris.", golds) == 1.0
    assert f1_score("Paris.", golds) == 1.0
    assert f1_score("Paris", ["Paris, France"]) == pytest.approx(2 / 3)
    assert exact_match("Paris", ["Paris, France"]) == 0.0


def test_empty_answers_follow_v1_1():
    # "The" normalises to "": EM compares strings (equal), F1 has no shared token (0, as in v1.1)
    assert exact_match("", ["The"]) == 1.0
    assert f1_score("", ["The"]) == 0.0
    assert f1_score("anything", []) == 0.0


def test_score_means_on_0_100_scale():
    # per-question F1: 1, 0, 6/7 -> mean (13/7) / 3 = 0.619047...; EM: 1, 0, 0 -> 1/3
    result = score(["Paris", "Lyon", "the cat sat on the mat"],
                   [["Paris"], ["Marseille"], ["a cat on a mat"]], bootstrap_samples=200, seed=0)
    assert result["n"] == 3
    assert result["f1"] == pytest.approx(100 * 13 / 21)
    assert result["em"] == pytest.approx(100 / 3)
    assert result["f1s"] == pytest.approx([1.0, 0.0, 6 / 7])
    for key in ("f1", "em"):
        low, high = result[f"{key}_ci95"]
        assert 0.0 <= low <= result[key] <= high <= 100.0


def test_bootstrap_is_seeded_and_contains_the_mean():
    values = [1.0, 0.0, 0.0, 1.0, 0.5, 0.25, 1.0, 0.0, 0.75, 0.0] * 5
    mean = sum(values) / len(values)
    first = bootstrap_ci(values, samples=500, seed=3)
    assert first == bootstrap_ci(values, samples=500, seed=3)
    assert first != bootstrap_ci(values, samples=500, seed=4)
    assert first[0] < mean < first[1]
    # a 95% interval of 50 scores this spread is neither a point nor the whole range
    assert 0.05 < first[1] - first[0] < 0.6
    # no spread, no interval
    assert bootstrap_ci([0.5] * 7, samples=100, seed=0) == [0.5, 0.5]


def test_score_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="2 predictions for 1 questions"):
        score(["a", "b"], [["a"]], bootstrap_samples=10, seed=0)
