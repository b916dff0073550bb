"""Which pages are articles: the skip reasons `prepare` counts.

Checked in this order, one reason per page: `namespace` (not main namespace 0), `redirect`,
`disambiguation`, then `too_short` (after cleaning, fewer than `min_words` words).
"""

from __future__ import annotations

from mwparserfromhell.wikicode import Wikicode

from wiki.clean import template_name
from wiki.dump import RawPage

SKIP_REASONS = ("namespace", "redirect", "disambiguation", "too_short")

# Templates that mark a disambiguation page on the English Wikipedia (the main one and the
# variants/redirects in common use); the `__DISAMBIG__` switch and a "(disambiguation)" title
# mark one too.
DISAMBIGUATION_TEMPLATES = frozenset({
    "disambiguation", "disambig", "disamb", "dab", "dis", "disambiguation cleanup", "hndis",
    "human name disambiguation", "geodis", "numberdis", "mathdab", "hospitaldis", "schooldis",
    "letter-numbercombdisambig", "letter-number combination disambiguation", "airport disambig",
    "call sign disambiguation", "chinese title disambiguation", "species latin name disambiguation",
})


def skip_before_cleaning(page: RawPage) -> str | None:
    """The reason to skip `page` that needs no parsing, or None."""
    if page.ns != 0:
        return "namespace"
    if page.redirect or page.text.lstrip()[:9].upper() == "#REDIRECT":
        return "redirect"
    if page.title.endswith("(disambiguation)"):
        return "disambiguation"
    return None


def is_disambiguation(code: Wikicode) -> bool:
    """A parsed page carries a disambiguation template (top level) or `__DISAMBIG__`."""
    for template in code.filter_templates(recursive=False):
        if template_name(template) in DISAMBIGUATION_TEMPLATES:
            return True
    return any("__DISAMBIG__" in str(t) for t in code.filter_text(recursive=False))
