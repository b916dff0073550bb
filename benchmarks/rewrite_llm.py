"""LLM rewriting throughput: joule's `hf` and `openai` backends against raw generation of the
same model on the same prompts.

`python -m benchmarks.rewrite_llm [--data-dir data] [--model-dir data/base_model] [--pages 2]
                                  [--max-tokens 32] [--concurrency 2]`

Builds the stage's requests (every style of conf/rewrite_llm, the first `--pages` pages' first
passage, `--max-tokens` generated tokens at most, greedy) and times, each with an empty cache:
  - raw hf: `model.generate` on the same chat prompts, batched like the hf backend, nothing else;
  - joule hf: `LLMRewrite` with `HFBackend` (generation + parsing + grounding + cache writes);
  - raw server: the `openai` client's chat completions to `transformers serve` (started here on
    a free loopback port with the same model), `--concurrency` threads, nothing else;
  - joule server: `LLMRewrite` with `OpenAIBackend` against that server.
Prints records/s, generated tokens/s, the joule/raw rate ratio and J/record (this process's
energy window: measured or `estimated:tdp`; for the server rows the server's own energy is
estimated from tokens with the configured J/token, labelled so).
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from omegaconf import OmegaConf

from joule.config import compose
from joule.energy import meter_from_config
from pipeline.rewrite import read_pages
from rewriters.llm.backends import HFBackend, OpenAIBackend
from rewriters.llm.cache import RequestCache
from rewriters.llm.rewrite import LLMRewrite
from rewriters.llm.styles import style_from_config


def make_rewrite(cfg, backend, cache_dir: Path, max_tokens: int) -> LLMRewrite:
    rl = cfg.rewrite_llm
    styles_cfg = OmegaConf.to_container(rl.styles, resolve=True)
    styles = []
    for name, c in styles_cfg.items():
        c = dict(c)
        c["generation"] = {**(c.get("generation") or {}), "max_tokens": max_tokens}
        styles.append(style_from_config(name, c))
    gen = {**OmegaConf.to_container(rl.generation, resolve=True), "max_tokens": max_tokens}
    return LLMRewrite(styles, backend, RequestCache(cache_dir / "c.sqlite"), generation=gen,
                      passage_chars=rl.passage_chars, passages_per_page=rl.passages_per_page,
                      min_passage_chars=rl.min_passage_chars, flush_every=64)


def requests_of(rewrite: LLMRewrite, pages: list[dict]) -> list[tuple[list[dict], dict]]:
    """The (messages, params) the stage would send, without sending them."""
    from rewriters.llm.rewrite import passages
    out = []
    for page in pages:
        for p in passages(page["text"], rewrite.passage_chars, rewrite.passages_per_page):
            if len(p) >= rewrite.min_passage_chars:
                out += [(s.messages(page["title"], p), rewrite.params(s)) for s in rewrite.styles]
    return out


def measure(meter, name, fn):
    with meter.window(name) as w:
        value = fn()
    return value, w["result"]


def raw_hf(model_dir: str, requests, batch_size: int) -> int:
    """Generated tokens of plain batched `generate` (greedy, left padding)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    lm = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    n = 0
    for k in range(0, len(requests), batch_size):
        chunk = requests[k:k + batch_size]
        texts = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True)
                 for m, _ in chunk]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = lm.generate(**enc, max_new_tokens=chunk[0][1]["max_tokens"], do_sample=False,
                              pad_token_id=tok.pad_token_id, top_k=None)
        new = out[:, enc["input_ids"].shape[1]:].tolist()
        for row in new:
            n += next((j + 1 for j, t in enumerate(row) if t == tok.eos_token_id), len(row))
    return n


def raw_server(url: str, model: str, requests, concurrency: int) -> int:
    import openai

    client = openai.OpenAI(base_url=url, api_key="none")

    def one(req):
        m, p = req
        r = client.chat.completions.create(model=model, messages=m, max_tokens=p["max_tokens"],
                                           temperature=0.0, top_p=1.0, seed=p["seed"])
        return r.usage.completion_tokens
    with ThreadPoolExecutor(concurrency) as pool:
        return sum(pool.map(one, requests))


def start_server(model_dir: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cli = shutil.which("transformers", path=str(Path(sys.executable).parent))
    proc = subprocess.Popen([cli, "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--device", "cpu", model_dir], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("transformers serve exited") from None
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("transformers serve did not start")


def row(name, records, tokens, m, extra_j=0.0, note=""):
    j = m.energy_j + extra_j
    print(f"{name:13s} records={records:3d} records/s={records / m.time_s:7.4f} "
          f"gen_tokens={tokens:5d} tokens/s={tokens / m.time_s:7.2f} time_s={m.time_s:7.1f} "
          f"J/record={(j / records if records else float('nan')):8.1f} ({m.energy_source}{note})")
    return tokens / m.time_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--model-dir", default=None)
    ap.add_argument("--pages", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--skip-server", action="store_true")
    args = ap.parse_args()
    cfg = compose([f"data_dir={args.data_dir}", "energy.use_zeus=true"])
    model_dir = args.model_dir or str(Path(args.data_dir) / "base_model")
    meter = meter_from_config(cfg.energy)
    pages = list(itertools.islice(read_pages(Path(args.data_dir) / "pages"), args.pages))
    bs = int(cfg.rewrite_llm.backend.batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        backend = HFBackend(model_dir, model="bench", batch_size=bs)
        rw = make_rewrite(cfg, backend, tmp / "hf", args.max_tokens)
        reqs = requests_of(rw, pages)
        print(f"{len(reqs)} requests ({args.pages} pages x {len(rw.styles)} styles), "
              f"max_tokens={args.max_tokens}, batch_size={bs}, model={model_dir}")
        tokens, m = measure(meter, "raw_hf", lambda: raw_hf(model_dir, reqs, bs))
        raw_rate = row("raw hf", 0, tokens, m)
        res, m = measure(meter, "joule_hf", lambda: rw.run(pages))
        n = sum(len(r) for r in res.records.values())
        rate = row("joule hf", n, res.generated_tokens_sent, m)
        print(f"joule hf / raw hf tokens/s: {rate / raw_rate:.3f}")
        if args.skip_server:
            return
        proc, url = start_server(model_dir)
        try:
            tokens, m = measure(meter, "raw_server",
                                lambda: raw_server(url, model_dir, reqs, args.concurrency))
            raw_rate = row("raw server", 0, tokens, m, note=", client process only")
            ob = OpenAIBackend(url, model_dir, concurrency=args.concurrency,
                               energy=compose(["rewrite_llm/backend=openai"]).rewrite_llm.backend
                               .energy)
            rw = make_rewrite(cfg, ob, tmp / "server", args.max_tokens)
            res, m = measure(meter, "joule_server", lambda: rw.run(pages))
            n = sum(len(r) for r in res.records.values())
            from rewriters.llm.energy import token_estimate
            est = token_estimate(res.prompt_tokens, res.generated_tokens, ob.energy)
            rate = row("joule server", n, res.generated_tokens_sent, m, est["energy_j"],
                       note=f"+estimated:tokens {est['energy_j']:.1f} J")
            print(f"joule server / raw server tokens/s: {rate / raw_rate:.3f}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
