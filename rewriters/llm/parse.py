"""Reading a model's answer: numbered question-answer pairs, list items, or a paraphrase.

Small models wander: a preamble ("Sure! Here are..."), pairs numbered `1.`, `Q1:` or not at all,
answers on the question's line or the next, and output cut at the token limit. Each parser
returns what it could read plus the reasons for what it could not (counted as drops).
"""

from __future__ import annotations

import re

_BULLET = re.compile(r"^\s*(?:\d{1,3}\s*[.):]|[-*\u2022])\s+")
_Q = re.compile(r"^\**\s*(?:Q(?:uestion)?)\s*\d*\s*\**\s*[:.)-]\s*\**\s*(.*)$", re.I)
_A = re.compile(r"^\**\s*(?:A(?:nswer)?)\s*\d*\s*\**\s*[:.)-]\s*\**\s*(.*)$", re.I)
_INLINE_A = re.compile(r"\s+\**A(?:nswer)?\s*\d*\s*\**\s*:\s*\**\s*", re.I)
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s|$)")


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.replace("\r", "").split("\n") if ln.strip()]


def parse_qa_pairs(text: str, truncated: bool) -> tuple[list[tuple[str, str]], list[str]]:
    """(question, answer) pairs in order, and drop reasons.

    A pair is `Question: ...` then `Answer: ...` (same line or next), with optional numbering.
    A question without an answer counts as `unanswered_question`; other text as `stray_text`;
    when the output hit the token limit (`truncated`) the last pair is dropped as
    `truncated_output` (its answer may be cut).
    """
    pairs: list[tuple[str, str]] = []
    drops: list[str] = []
    question: str | None = None
    for line in _lines(text):
        line = _BULLET.sub("", line)
        q, a = _Q.match(line), _A.match(line)
        if q:
            if question is not None:
                drops.append("unanswered_question")
            body = q.group(1).strip()
            inline = _INLINE_A.split(body, maxsplit=1)
            if len(inline) == 2 and inline[1].strip():
                pairs.append((inline[0].strip(" *"), inline[1].strip(" *")))
                question = None
            else:
                question = body.strip(" *")
        elif a and question is not None:
            pairs.append((question, a.group(1).strip(" *")))
            question = None
        else:
            drops.append("stray_text")
    if question is not None:
        drops.append("truncated_output" if truncated else "unanswered_question")
    elif truncated and pairs:
        pairs.pop()
        drops.append("truncated_output")
    return pairs, drops


def parse_list(text: str, truncated: bool) -> tuple[list[str], list[str]]:
    """Bulleted or numbered items, and drop reasons (`stray_text` for unbulleted lines; the last
    item when the output hit the token limit, `truncated_output`)."""
    items, drops = [], []
    for line in _lines(text):
        if _BULLET.match(line):
            item = _BULLET.sub("", line).strip()
            if item:
                items.append(item)
        else:
            drops.append("stray_text")
    if truncated and items:
        items.pop()
        drops.append("truncated_output")
    return items, drops


def parse_text(text: str, truncated: bool) -> tuple[str, list[str]]:
    """A paraphrase: the text without a preamble line ending in ':' and, when the output hit
    the token limit, without its unfinished last sentence."""
    drops = []
    lines = _lines(text)
    if len(lines) > 1 and lines[0].endswith(":"):
        lines = lines[1:]
        drops.append("stray_text")
    out = "\n".join(lines).strip()
    if truncated:
        ends = list(_SENTENCE_END.finditer(out))
        out = out[: ends[-1].end()] if ends else ""
        drops.append("truncated_sentence")
    return out, drops
