"""How far F1 on other articles may fall from ours by article sampling alone.

Held-out questions come in articles: questions of one article share its passages and its topic,
so they are not independent. A set of new articles (the issue's transfer check) differs from ours
by the luck of which articles were drawn even if nothing was tuned on ours. This module measures
that spread from our own predictions: per-article F1, a cluster bootstrap over articles, and the
95% range of the difference between our mean and the mean over `k` fresh articles drawn from the
same population (resampled articles stand in for the population).

`python -m reporting.transfer data/predictions/curated/ckpt-100.jsonl [--k 22] [eval.path=FILE]`
(the questions' articles come from the `eval` config's file, read by `joule.evalset`).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from pathlib import Path

from joule.errors import JouleError


def article_of(rows: list[dict]) -> dict[str, str]:
    """Question id -> article title, from `joule.evalset.load_eval_set` rows."""
    return {r["id"]: r["title"] for r in rows}


def per_article_f1(predictions: list[dict], articles: dict[str, str]) -> dict[str, list[float]]:
    """Article title -> per-question F1 (0-100) of the predictions on its questions.
    Raises JouleError for a prediction whose id is not in the eval file."""
    out: dict[str, list[float]] = {}
    for p in predictions:
        if p["id"] not in articles:
            raise JouleError(f"prediction id {p['id']!r} is not in the evaluation file")
        out.setdefault(articles[p["id"]], []).append(100.0 * float(p["f1"]))
    return out


def transfer_spread(by_article: dict[str, list[float]], k: int, samples: int = 2000,
                    seed: int = 0) -> dict:
    """F1 over questions, the between-article spread, and the 95% range of (mean F1 on k new
    articles) - (our F1), from a cluster bootstrap over articles (F1 in points).
    Raises JouleError with fewer than 2 articles or k < 1."""
    if len(by_article) < 2 or k < 1:
        raise JouleError(f"need >= 2 articles and k >= 1 (got {len(by_article)} and {k})")
    names = sorted(by_article)
    ours = statistics.fmean(f for n in names for f in by_article[n])
    rng = random.Random(seed)
    diffs = []
    for _ in range(samples):
        drawn = [by_article[rng.choice(names)] for _ in range(k)]
        diffs.append(statistics.fmean(f for scores in drawn for f in scores) - ours)
    diffs.sort()
    means = [statistics.fmean(by_article[n]) for n in names]
    return {"f1": ours, "articles": len(names), "questions": sum(map(len, by_article.values())),
            "article_f1_sd": statistics.stdev(means),
            "article_f1_range": [min(means), max(means)], "k": k, "samples": samples,
            "new_articles_diff_95": [diffs[int(0.025 * samples)],
                                     diffs[int(0.975 * samples) - 1]]}


def main(argv: list[str] | None = None) -> None:
    from joule.config import compose
    from joule.evalset import load_eval_set

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("predictions", type=Path, help="a predictions .jsonl of the evaluate stage")
    parser.add_argument("--k", type=int, default=22, help="articles in the other set")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. eval.path=FILE")
    args = parser.parse_intermixed_args(argv)
    try:
        questions = load_eval_set(compose(args.overrides).eval, sample=False)
        rows = [json.loads(line) for line in args.predictions.read_text().splitlines() if line]
        result = transfer_spread(per_article_f1(rows, article_of(questions)), args.k)
    except (OSError, JouleError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    lo, hi = result["new_articles_diff_95"]
    print(f"F1 {result['f1']:.1f} on {result['questions']} questions of {result['articles']} "
          f"articles; per-article F1 sd {result['article_f1_sd']:.1f} (range "
          f"{result['article_f1_range'][0]:.1f}-{result['article_f1_range'][1]:.1f}); "
          f"{result['k']} other articles: F1 {lo:+.1f} to {hi:+.1f} from ours (95%, article "
          "sampling alone)")


if __name__ == "__main__":
    main()
