"""Backends: where generation runs. Both take chat requests and return `Answer`s in order.

- `OpenAIBackend`: any OpenAI-compatible server (vLLM, llama.cpp's server, `transformers serve`,
  a hosted API) through the `openai` client, which retries 408/409/429/5xx and lost connections
  with exponential backoff (`max_retries`) and enforces a per-request `timeout`; requests run on
  `concurrency` threads. Any failure becomes one JouleError naming the URL.
- `HFBackend`: transformers generation in-process, batched (left padding), on `device`
  (`auto`: cuda when available, else cpu). Its energy is measured by the stage's meter, per
  chunk of requests, and stored with each answer in the request cache (rewriters/llm/rewrite.py).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from joule.errors import JouleError


@dataclass
class Answer:
    """One generation: the text, token counts and why it stopped (`stop` or `length`)."""

    text: str
    prompt_tokens: int
    generated_tokens: int
    finish_reason: str

    def to_dict(self) -> dict:
        return asdict(self)


class Backend:
    """Interface: `kind`, `model` (the name that goes into records and the cache key) and
    `generate(requests)`, where a request is (messages, params) and params has max_tokens,
    temperature, top_p, seed."""

    kind = ""
    remote = False
    model = ""

    def generate(self, requests: list[tuple[list[dict], dict]]) -> list[Answer]:
        raise NotImplementedError

    def outside_cpu(self) -> tuple[float, str]:
        """(CPU seconds, who) spent for this backend in processes that are not this one's
        children (e.g. Ray actors), for the stage's energy window; (0.0, "") by default."""
        return 0.0, ""

    def close(self) -> None:
        pass


class OpenAIBackend(Backend):
    """Chat completions from the server at `base_url`. The API key is read from the environment
    variable named `api_key_env` (never from config, never written anywhere); a server that needs
    none gets the placeholder "none"."""

    kind = "openai"
    remote = True

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 4, max_retries: int = 3, timeout_s: float = 120.0,
                 energy: dict | None = None):
        import openai

        if not base_url or not model:
            raise JouleError("config keys rewrite_llm.backend.base_url and "
                             "rewrite_llm.backend.model must be set for the openai backend")
        self.base_url, self.model = base_url, model
        self.concurrency = max(1, int(concurrency))
        self.energy = energy or {}
        self._openai = openai
        self._client = openai.OpenAI(base_url=base_url,
                                     api_key=os.environ.get(api_key_env) or "none",
                                     max_retries=int(max_retries), timeout=float(timeout_s))
        self.timeout_s = float(timeout_s)

    def _one(self, request: tuple[list[dict], dict]) -> Answer:
        messages, params = request
        openai = self._openai
        try:
            resp = self._client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=params["max_tokens"],
                temperature=params["temperature"], top_p=params["top_p"], seed=params["seed"])
        except openai.APITimeoutError as exc:
            raise JouleError(f"LLM server {self.base_url} did not answer within "
                             f"{self.timeout_s:g} s (rewrite_llm.backend.timeout_s)") from exc
        except openai.APIConnectionError as exc:
            raise JouleError(f"LLM server {self.base_url} is unreachable: {exc}") from exc
        except openai.APIStatusError as exc:
            raise JouleError(f"LLM server {self.base_url} answered HTTP {exc.status_code}: "
                             f"{str(exc.message)[:200]}") from exc
        except openai.OpenAIError as exc:
            raise JouleError(f"LLM server {self.base_url}: {exc}") from exc
        try:
            choice = resp.choices[0]
            text = choice.message.content
            if not isinstance(text, str):
                raise TypeError("no message content")
            usage = resp.usage
            return Answer(text=text, prompt_tokens=int(usage.prompt_tokens),
                          generated_tokens=int(usage.completion_tokens),
                          finish_reason=str(choice.finish_reason or "stop"))
        except (AttributeError, IndexError, TypeError, ValueError) as exc:
            raise JouleError(f"LLM server {self.base_url} answered something that is not a chat "
                             f"completion with usage ({exc}): {str(resp)[:200]}") from exc

    def generate(self, requests):
        if self.concurrency == 1 or len(requests) == 1:
            return [self._one(r) for r in requests]
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(self._one, requests))

    def close(self) -> None:
        self._client.close()


class HFBackend(Backend):
    """Batched `generate` of a local transformers checkpoint (`path`, e.g. the base_model
    stage's output). Greedy when temperature is 0; sampling is seeded per batch otherwise."""

    kind = "hf"

    def __init__(self, path: str, model: str | None = None, device: str = "auto",
                 dtype: str = "float32", batch_size: int = 8, energy: dict | None = None):
        """`energy`: J/token figures (`rewriters.llm.energy.token_estimate`), used only for
        cached answers that carry no stored cost; this backend's own generation is measured."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not Path(path).is_dir():
            raise JouleError(f"no model at rewrite_llm.backend.path={path} "
                             "(run the base_model stage)")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device, self.batch_size = device, max(1, int(batch_size))
        self.energy = energy or {}
        self.model = model or Path(path).name
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
            self.lm = AutoModelForCausalLM.from_pretrained(
                path, dtype=getattr(torch, dtype)).to(device).eval()
        except (OSError, ValueError, AttributeError) as exc:
            raise JouleError(f"cannot load the model at rewrite_llm.backend.path={path}: "
                             f"{exc}") from exc
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def _batch(self, batch: list[tuple[list[dict], dict]]) -> list[Answer]:
        import torch

        params = batch[0][1]
        texts = [self.tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True)
                 for m, _ in batch]
        enc = self.tokenizer(texts, return_tensors="pt", padding=True,
                             add_special_tokens=False).to(self.device)
        sample = float(params["temperature"]) > 0
        if sample:
            torch.manual_seed(int(params["seed"]))
        kwargs = dict(do_sample=True, temperature=float(params["temperature"]),
                      top_p=float(params["top_p"])) if sample else dict(do_sample=False)
        with torch.inference_mode():
            out = self.lm.generate(**enc, max_new_tokens=int(params["max_tokens"]),
                                   pad_token_id=self.tokenizer.pad_token_id, top_k=None,
                                   **kwargs)
        new = out[:, enc["input_ids"].shape[1]:]
        eos = self.lm.generation_config.eos_token_id
        eos = set(eos if isinstance(eos, list) else [eos]) | {self.tokenizer.eos_token_id}
        answers = []
        for i, row in enumerate(new.tolist()):
            end = next((j for j, t in enumerate(row) if t in eos), None)
            ids = row if end is None else row[:end]
            answers.append(Answer(
                text=self.tokenizer.decode(ids, skip_special_tokens=True),
                prompt_tokens=int(enc["attention_mask"][i].sum()),
                generated_tokens=len(ids) + (end is not None),
                finish_reason="stop" if end is not None else "length"))
        return answers

    def generate(self, requests):
        """Batches of `batch_size` requests with identical params, answers in request order."""
        answers: list[Answer | None] = [None] * len(requests)
        groups: dict[str, list[int]] = {}
        for i, (_, params) in enumerate(requests):
            groups.setdefault(repr(sorted(params.items())), []).append(i)
        for idx in groups.values():
            for k in range(0, len(idx), self.batch_size):
                chunk = idx[k:k + self.batch_size]
                for i, ans in zip(chunk, self._batch([requests[i] for i in chunk]), strict=True):
                    answers[i] = ans
        return answers
