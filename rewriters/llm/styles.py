"""Styles: one prompt file per style (`conf/rewrite_llm/styles/<name>.yaml`), no code per style.

A style names the record format it makes (`qa_extractive`, `paraphrase`, `key_facts`), the parser
that reads the model's answer (`qa_pairs`, `text`, `list`) and the prompt, a template with
`{title}` and `{passage}`. The prompt hash (sha256 of system + prompt, 12 hex digits) goes into
every record's `meta`, so records made with an edited prompt can be told apart.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from joule.errors import JouleError
from joule.records import FORMAT_FIELDS

PARSERS = ("qa_pairs", "text", "list")


@dataclass(frozen=True)
class Style:
    """One prompt style. `generation`: max_tokens, temperature, top_p, seed (sent as is)."""

    name: str
    format: str
    parser: str
    prompt: str
    system: str | None = None
    version: int = 1
    generation: dict = field(default_factory=dict)
    grounding: dict = field(default_factory=dict)

    @property
    def prompt_hash(self) -> str:
        text = (self.system or "") + "\x00" + self.prompt
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

    @property
    def record_format(self) -> str:
        """`<format>.<style>.v<N>`: the format name first, so training reads it as `format`."""
        return f"{self.format}.{self.name}.v{self.version}"

    def messages(self, title: str, passage: str) -> list[dict]:
        """The chat messages of one request (OpenAI chat format)."""
        user = self.prompt.format(title=title, passage=passage)
        return ([{"role": "system", "content": self.system}] if self.system else []) + [
            {"role": "user", "content": user}]


def style_from_config(name: str, cfg: dict) -> Style:
    """A Style from one style file's mapping; a JouleError names the key at fault."""
    where = f"rewrite_llm.styles.{name}"
    for key in ("format", "parser", "prompt"):
        if not cfg.get(key):
            raise JouleError(f"config key {where}.{key} is missing")
    if cfg["format"] not in FORMAT_FIELDS:
        raise JouleError(f"config key {where}.format: unknown format {cfg['format']!r} "
                         f"(known: {sorted(FORMAT_FIELDS)})")
    if cfg["parser"] not in PARSERS:
        raise JouleError(f"config key {where}.parser must be one of {PARSERS}")
    try:
        cfg["prompt"].format(title="t", passage="p")
    except (KeyError, IndexError, ValueError) as exc:
        raise JouleError(f"config key {where}.prompt: only {{title}} and {{passage}} may be "
                         f"used ({exc})") from exc
    unknown = set(cfg) - {"format", "parser", "prompt", "system", "version", "generation",
                          "grounding"}
    if unknown:
        raise JouleError(f"unknown config key(s) {sorted(unknown)} in {where}")
    return Style(name=name, format=cfg["format"], parser=cfg["parser"], prompt=cfg["prompt"],
                 system=cfg.get("system"), version=int(cfg.get("version", 1)),
                 generation=dict(cfg.get("generation") or {}),
                 grounding=dict(cfg.get("grounding") or {}))
