"""Stage `rewrite_llm`: pages -> records made by a language model, one table per style.

`python -m pipeline.rewrite_llm [rewrite_llm.max_pages=20] [rewrite_llm/backend=openai
rewrite_llm.backend.base_url=http://127.0.0.1:8000/v1 rewrite_llm.backend.model=<name>]
[runner=ray runner.llm_actors=8]`

With `runner=ray` (openai backend only) the requests are sent from `runner.llm_actors` Ray
actors, one in flight each (`runners/ray_llm.py`); caching, order and grounding stay here, so
the records are the same.

Reads `<data_dir>/pages`, rewrites the first `max_pages` pages in every style of
`rewrite_llm.styles` (rewriters/llm/), and writes `<data_dir>/<out_dir>/<style>/part-00000.parquet`
(all styles or none) and `<metrics_dir>/rewrite_llm.json`. Energy: the stage's own window
(measured or `estimated:tdp`, in-process generation included) plus, for a remote server, an
`estimated:tokens` figure from the prompt and generated tokens of every answer used (the
server's joules cannot be read from here), or, for an in-process backend, the generation cost
stored in the cache with every answer served from it (`energy_carried`, by how each was
obtained: `stored:<source>` or `estimated:tokens (no stored cost)` for an older cache), so a
cached re-run reports what its records cost, not only the re-run's own joules. `energy_j` is the
sum and `energy_source` names its parts; the report charges `energy_j` to LLM curricula.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import hydra.utils
from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf

from joule.config import require, run
from joule.energy import meter_from_config
from joule.errors import JouleError
from joule.io import atomic_dir, write_json, write_table
from joule.records import format_name
from pipeline.rewrite import read_pages, record_schema
from pipeline.stage import summary_line
from rewriters.llm.backends import Backend
from rewriters.llm.cache import RequestCache
from rewriters.llm.energy import token_estimate
from rewriters.llm.rewrite import LLMRewrite
from rewriters.llm.styles import style_from_config
from runners import runner_name


def build_backend(cfg: DictConfig) -> Backend:
    """The backend of `rewrite_llm.backend` (its `_target_` and knobs)."""
    bcfg = require(cfg, "rewrite_llm.backend")
    try:
        backend = hydra.utils.instantiate(bcfg, _convert_="all")
    except InstantiationException as exc:
        cause = exc.__cause__
        if isinstance(cause, JouleError):
            raise cause from exc
        raise JouleError(f"config key rewrite_llm.backend does not build a backend: "
                         f"{exc}".splitlines()[0]) from exc
    if not isinstance(backend, Backend):
        raise JouleError("config key rewrite_llm.backend must build a rewriters.llm.backends."
                         f"Backend (got {type(backend).__name__})")
    return backend


def main(cfg: DictConfig) -> dict:
    """Run the stage; returns the metrics written to `<metrics_dir>/rewrite_llm.json`."""
    rl = require(cfg, "rewrite_llm")
    data_dir = Path(require(cfg, "data_dir"))
    styles_cfg = OmegaConf.to_container(require(cfg, "rewrite_llm.styles"), resolve=True)
    styles = [style_from_config(name, dict(c)) for name, c in styles_cfg.items()]
    if not styles:
        raise JouleError("config key rewrite_llm.styles lists no styles")
    if runner_name(cfg) == "ray":
        from runners.ray_llm import check_remote

        check_remote(require(cfg, "rewrite_llm.backend"))
    meter = meter_from_config(cfg.energy)
    with meter.window("rewrite_llm") as window:
        backend = build_backend(cfg)
        if runner_name(cfg) == "ray":    # the same requests, sent from Ray actors
            from runners.ray_llm import RayBackend

            backend = RayBackend(backend, cfg.rewrite_llm.backend, cfg)
        if backend.remote:   # fail before any request when the energy figures are missing
            token_estimate(0, 1, backend.energy)
        cache = RequestCache(Path(rl.cache_dir) / "cache.sqlite")
        try:
            rewrite = LLMRewrite(
                styles, backend, cache,
                generation=OmegaConf.to_container(rl.generation, resolve=True),
                passage_chars=rl.passage_chars, passages_per_page=rl.passages_per_page,
                min_passage_chars=rl.min_passage_chars, flush_every=rl.flush_every,
                meter=meter)
            pages = read_pages(data_dir / "pages")
            if rl.max_pages is not None:
                pages = itertools.islice(pages, int(rl.max_pages))
            result = rewrite.run(pages)
            cpu_s, who = backend.outside_cpu()   # e.g. Ray actors: not this process's children
            if cpu_s:
                meter.add_cpu_time("rewrite_llm", cpu_s, who)
        finally:
            cache.close()
            backend.close()
        if not result.pages:
            raise JouleError(f"no pages in {data_dir / 'pages'}")
        with atomic_dir(data_dir / rl.out_dir) as out:
            for style in styles:
                (out / style.name).mkdir()
                write_table(out / style.name / "part-00000.parquet",
                            result.records[style.name], schema=record_schema(style.format))
    local = window["result"]
    n_records = sum(len(r) for r in result.records.values())
    metrics = {
        "backend": backend.kind, "model": backend.model, "pages": result.pages,
        "passages": result.passages, "requests": result.requests,
        "requests_sent": result.requests_sent, "answers_from_cache": result.answers_from_cache,
        "prompt_tokens": result.prompt_tokens, "generated_tokens": result.generated_tokens,
        "prompt_tokens_sent": result.prompt_tokens_sent,
        "generated_tokens_sent": result.generated_tokens_sent,
        "records": {s.name: len(result.records[s.name]) for s in styles},
        "formats": {s.name: format_name(s.record_format) for s in styles},
        "prompt_hashes": {s.name: s.prompt_hash for s in styles},
        "drops": {name: dict(sorted(c.items())) for name, c in result.drops.items()},
        "time_s": local.time_s, "energy_local": local.to_dict(),
    }
    if backend.remote:
        # Every answer the records come from (sent now or cached by an earlier, maybe killed,
        # run) was generated on the server: its estimate counts them all.
        remote = token_estimate(result.prompt_tokens, result.generated_tokens, backend.energy)
        metrics.update(energy_remote=remote, base_url=backend.base_url,
                       energy_j=round(local.energy_j + remote["energy_j"], 3),
                       energy_source=f"{local.energy_source}+{remote['energy_source']}")
    else:
        # This run's window, plus what the answers served from the cache cost when generated.
        carried = {label: {"answers": c["answers"], "energy_j": round(c["energy_j"], 3)}
                   for label, c in sorted(result.carried.items())}
        metrics.update(
            energy_generation_j=round(result.generation_j, 3),
            energy_carried={"energy_j": round(result.carried_j, 3),
                            "answers": result.answers_from_cache, "by_source": carried},
            energy_j=round(local.energy_j + result.carried_j, 3),
            energy_source="+".join([local.energy_source] + [f"cache:{label.split(' ')[0]}"
                                                            for label in carried]))
        if any(label.startswith("estimated:tokens") for label in carried):
            metrics["energy_carried"]["estimate"] = {
                k: backend.energy.get(k) for k in ("joules_per_prompt_token",
                                                   "joules_per_generated_token", "source")}
    metrics.update(
        records_total=n_records,
        records_per_s=round(n_records / local.time_s, 4) if local.time_s > 0 else 0.0,
        generated_tokens_per_s=(round(result.generated_tokens_sent / local.time_s, 2)
                                if local.time_s > 0 else 0.0))
    if n_records:
        metrics["j_per_record"] = round(metrics["energy_j"] / n_records, 3)
    path = Path(cfg.metrics_dir) / "rewrite_llm.json"
    write_json(path, metrics)
    print(summary_line("rewrite_llm", {"wrote": data_dir / rl.out_dir, "pages": result.pages,
                                       "requests_sent": result.requests_sent,
                                       "records": n_records}, path, local.time_s,
                       metrics["energy_j"], metrics["energy_source"]), flush=True)
    return metrics


if __name__ == "__main__":
    run(main)
