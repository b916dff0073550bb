"""The SQuAD v1.1 metric: exact match and token F1 against several gold answers, with intervals.

Written here because no installed library computes it offline: the `evaluate` package is not
installed, `datasets` (5.x) no longer ships metrics (`load_metric` is gone), and torchmetrics is
absent. This follows the official v1.1 evaluation script's rules:
- normalise: lower case, drop punctuation (`string.punctuation`), drop the articles a/an/the as
  whole words, squash whitespace;
- EM: 1 if the normalised prediction equals a normalised gold answer;
- F1: harmonic mean of token precision and recall (bag of tokens, counted with multiplicity);
  no shared token gives 0 (also when both sides are empty, as in v1.1);
- a question's score is the max over its gold answers; the set's score the mean, times 100.
Intervals: 95% percentile bootstrap over questions, seeded, so reruns give the same interval.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

import numpy as np

_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """Official SQuAD normalisation: lower, strip punctuation, strip articles, squash spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _f1(prediction: str, gold: str) -> float:
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 if the normalised prediction equals any normalised gold answer, else 0.0."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(g) for g in golds))


def f1_score(prediction: str, golds: Sequence[str]) -> float:
    """Token F1 in [0, 1], the best over the gold answers (0.0 when there are none)."""
    return max((_f1(prediction, g) for g in golds), default=0.0)


def bootstrap_ci(values: Sequence[float], samples: int, seed: int,
                 confidence: float = 0.95) -> list[float]:
    """Percentile bootstrap interval [low, high] of the mean of `values` (same units as values).

    Resamples the questions with replacement `samples` times with a seeded numpy generator.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise ValueError("bootstrap over an empty list of scores")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, values.size, size=(int(samples), values.size))
    means = values[idx].mean(axis=1)
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return [float(low), float(high)]


def score(predictions: Sequence[str], golds: Sequence[Sequence[str]], bootstrap_samples: int,
          seed: int) -> dict:
    """Set-level SQuAD scores on the 0-100 scale, with 95% bootstrap intervals.

    Returns f1, em, n, f1_ci95, em_ci95, and the per-question `f1s` / `ems` (0-1 scale).
    """
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions for {len(golds)} questions")
    f1s = [f1_score(p, g) for p, g in zip(predictions, golds, strict=True)]
    ems = [exact_match(p, g) for p, g in zip(predictions, golds, strict=True)]
    to_pct = [100.0 * x for x in f1s], [100.0 * x for x in ems]
    return {
        "f1": float(np.mean(to_pct[0])), "em": float(np.mean(to_pct[1])), "n": len(f1s),
        # one seed for both so F1 and EM intervals come from the same resamples
        "f1_ci95": bootstrap_ci(to_pct[0], bootstrap_samples, seed),
        "em_ci95": bootstrap_ci(to_pct[1], bootstrap_samples, seed),
        "f1s": f1s, "ems": ems,
    }
