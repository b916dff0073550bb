"""Pages -> LLM requests (one per passage and style) -> cached answers -> grounded records.

Requests are built in page, passage, style order and answered from the cache or the backend in
chunks of `flush_every` (each chunk's answers are cached as soon as it returns, so a killed run
resumes); records are then made in request order, so the output depends only on the pages, the
config and the answers.

Energy of in-process generation (a local backend: `hf`): each chunk's `backend.generate` runs in
its own window of the stage's meter, and each answer's share of it (by prompt + generated tokens)
is stored with the answer in the cache (`cost`: energy_j, energy_source, split), so a later run
that is served from the cache still counts what those answers cost (`Result.carried`). An answer
cached without a cost (a cache written before costs were stored, or without a meter) is counted
from its tokens with the backend's configured J/token (`estimated:tokens`), never as zero. A
remote backend's energy is estimated from the tokens of every answer by the stage instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from joule.records import dump_meta, record_id
from rewriters.llm import ground, parse
from rewriters.llm.backends import Answer, Backend
from rewriters.llm.cache import RequestCache, request_key
from rewriters.llm.energy import token_estimate
from rewriters.llm.styles import Style

_CUTS = ("\n\n", "\n", ". ", " ")


def passages(text: str, max_chars: int, limit: int) -> list[str]:
    """Up to `limit` leading pieces of `text` of at most `max_chars` characters, cut at the best
    break (paragraph, line, sentence, word) and stripped; empty pieces are skipped."""
    out = []
    while text and len(out) < limit:
        if len(text) <= max_chars:
            cut = len(text)
        else:
            window = text[:max_chars]
            cut = next((window.rfind(s) + len(s) for s in _CUTS if window.rfind(s) > 0),
                       max_chars)
        piece, text = text[:cut].strip(), text[cut:]
        if piece:
            out.append(piece)
    return out


@dataclass
class Result:
    """Records per style (in request order) and the run's books."""

    records: dict[str, list[dict]]
    drops: dict[str, Counter] = field(default_factory=dict)
    requests: int = 0
    requests_sent: int = 0
    answers_from_cache: int = 0
    prompt_tokens: int = 0          # over every answer used (sent now or cached)
    generated_tokens: int = 0
    prompt_tokens_sent: int = 0     # over the answers generated in this run
    generated_tokens_sent: int = 0
    pages: int = 0
    passages: int = 0
    generation_j: float = 0.0       # this run's generation windows (local backend, with a meter)
    # the stored cost of the answers served from the cache, by how it was obtained:
    # {label: {"answers": n, "energy_j": J}}; a local backend's only (see the module docstring)
    carried: dict[str, dict] = field(default_factory=dict)

    @property
    def carried_j(self) -> float:
        return sum(c["energy_j"] for c in self.carried.values())


class LLMRewrite:
    """Rewrite pages in every style with one backend and one request cache."""

    def __init__(self, styles: list[Style], backend: Backend, cache: RequestCache, *,
                 generation: dict, passage_chars: int = 1500, passages_per_page: int = 1,
                 min_passage_chars: int = 200, flush_every: int = 16, meter=None):
        """`meter`: a joule.energy.EnergyMeter whose windows time each chunk's generation (a
        local backend's answers then carry their cost in the cache); None: no cost stored."""
        self.styles, self.backend, self.cache, self.meter = styles, backend, cache, meter
        self.generation = dict(generation)
        self.passage_chars, self.passages_per_page = int(passage_chars), int(passages_per_page)
        self.min_passage_chars, self.flush_every = int(min_passage_chars), max(1, int(flush_every))

    def params(self, style: Style) -> dict:
        """Generation parameters of a style: the defaults overridden by the style's own."""
        p = {**self.generation, **style.generation}
        return {k: p[k] for k in ("max_tokens", "temperature", "top_p", "seed")}

    def run(self, pages: Iterable[dict]) -> Result:
        result = Result(records={s.name: [] for s in self.styles},
                        drops={s.name: Counter() for s in self.styles})
        jobs = []   # (page, passage index, passage, style, messages, params, key)
        model_id = f"{self.backend.kind}:{self.backend.model}"
        for page in pages:
            result.pages += 1
            for i, passage in enumerate(passages(page["text"] or "", self.passage_chars,
                                                 self.passages_per_page)):
                if len(passage) < self.min_passage_chars:
                    for s in self.styles:
                        result.drops[s.name]["passage_too_short"] += 1
                    continue
                result.passages += 1
                for style in self.styles:
                    messages, params = style.messages(page["title"], passage), self.params(style)
                    jobs.append((page, i, passage, style, messages, params,
                                 request_key(model_id, messages, params)))
        result.requests = len(jobs)
        answers: dict[str, Answer] = {}
        missing = []
        for job in jobs:
            key = job[-1]
            if key in answers:
                continue
            hit = self.cache.get(key)
            if hit is not None:
                cost = hit.pop("cost", None)
                answers[key] = Answer(**hit)
                result.answers_from_cache += 1
                if not self.backend.remote:
                    self._carry(result, answers[key], cost)
            else:
                answers[key] = None
                missing.append(job)
        for k in range(0, len(missing), self.flush_every):
            chunk = missing[k:k + self.flush_every]
            got, costs = self._generate([(j[4], j[5]) for j in chunk])
            for job, ans, cost in zip(chunk, got, costs, strict=True):
                self.cache.put(job[-1], ans.to_dict() | ({"cost": cost} if cost else {}))
                answers[job[-1]] = ans
                result.requests_sent += 1
                result.prompt_tokens_sent += ans.prompt_tokens
                result.generated_tokens_sent += ans.generated_tokens
            result.generation_j += sum(c["energy_j"] for c in costs if c)
        for ans in answers.values():
            result.prompt_tokens += ans.prompt_tokens
            result.generated_tokens += ans.generated_tokens
        for page, i, passage, style, _, params, key in jobs:
            made = self.records(page, i, passage, style, params, answers[key],
                                result.drops[style.name])
            result.records[style.name].extend(made)
        return result

    def _generate(self, requests: list) -> tuple[list[Answer], list[dict | None]]:
        """The backend's answers and, for a local backend with a meter, each one's cost: its
        share of the chunk's window, by prompt + generated tokens (what the batch computed)."""
        if self.backend.remote or self.meter is None:
            return self.backend.generate(requests), [None] * len(requests)
        with self.meter.window("rewrite_llm/generate") as window:
            got = self.backend.generate(requests)
        spent = window["result"]
        weights = [a.prompt_tokens + a.generated_tokens for a in got]
        total = sum(weights)
        costs = [{"energy_j": spent.energy_j * (w / total if total else 1 / len(got)),
                  "energy_source": spent.energy_source,
                  "split": "share of its chunk's window by prompt + generated tokens"}
                 for w in weights]
        return got, costs

    def _carry(self, result: Result, answer: Answer, cost: dict | None) -> None:
        """Count the generation cost of an answer served from the cache (a local backend)."""
        if cost is not None:
            label, joules = f"stored:{cost['energy_source']}", float(cost["energy_j"])
        else:   # cached before costs were stored: from its tokens, labelled, never zero
            estimate = token_estimate(answer.prompt_tokens, answer.generated_tokens,
                                      getattr(self.backend, "energy", None) or {},
                                      "answers cached without a stored cost")
            label, joules = "estimated:tokens (no stored cost)", estimate["energy_j"]
        entry = result.carried.setdefault(label, {"answers": 0, "energy_j": 0.0})
        entry["answers"] += 1
        entry["energy_j"] += joules

    def records(self, page: dict, index: int, passage: str, style: Style, params: dict,
                answer: Answer, drops: Counter) -> list[dict]:
        """The grounded records of one answer; what is dropped is counted in `drops`."""
        truncated = answer.finish_reason == "length"
        meta = {"rewriter": "llm", "style": style.name, "backend": self.backend.kind,
                "model": self.backend.model, "prompt_hash": style.prompt_hash,
                "generation": params, "passage_index": index,
                "finish_reason": answer.finish_reason}
        g = style.grounding
        fields_list = []
        if style.parser == "qa_pairs":
            pairs, reasons = parse.parse_qa_pairs(answer.text, truncated)
            drops.update(reasons)
            seen = set()
            for question, ans in pairs:
                span = ground.find_span(passage, ans)
                if not question or span is None:
                    drops["answer_not_in_passage" if question else "empty_question"] += 1
                    continue
                if (question, span) in seen:
                    drops["repeated_pair"] += 1
                    continue
                seen.add((question, span))
                fields_list.append({"context": passage, "question": question,
                                    "answer": span[0], "answer_start": span[1]})
        elif style.parser == "list":
            items, reasons = parse.parse_list(answer.text, truncated)
            drops.update(reasons)
            facts = []
            for item in items:
                if not ground.numbers(item) <= ground.numbers(passage):
                    drops["number_not_in_passage"] += 1
                elif item not in facts:
                    facts.append(item)
            if len(facts) < int(g.get("min_facts", 2)):
                drops["too_few_facts"] += 1
            else:
                fields_list.append({"facts": facts})
        else:
            text, reasons = parse.parse_text(answer.text, truncated)
            drops.update(r for r in reasons if r != "stray_text")
            words = len(text.split())
            reason = None
            if words < int(g.get("min_words", 30)):
                reason = "too_short"
            else:
                reason = ground.check_paraphrase(
                    passage, text, float(g.get("min_name_recall", 0.5)),
                    float(g.get("min_number_recall", 1.0)))
            if reason:
                drops[reason] += 1
            else:
                fields_list.append({"text": text})
        out = []
        for fields in fields_list:
            content = [fields[k] for k in sorted(fields)]
            out.append({"id": record_id(style.record_format, page["id"], index, *content),
                        "page_id": str(page["id"]), "title": page["title"],
                        "format": style.record_format, **fields, "meta": dump_meta(meta)})
        return out
