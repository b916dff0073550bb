"""Which pages are articles: the skip reasons `prepare` counts.

Checked in this order, one reason per page: `namespace` (not main namespace 0), `redirect`,
`disambiguation`, then `too_short` (after cleaning, fewer than `min_words` words, counted as
wiki/words.py says for scripts written without spaces).

A disambiguation page is recognised by (`DISAMBIGUATION_BY`, the order they are checked):
`title` "... (disambiguation)"; `template`: any template of the family, case-insensitively and
with `_` as space (`is_disambiguation_template`); `category`: a category of disambiguation pages
(`[[Category:Place name disambiguation pages]]`, `[[Category:Disambiguation pages]]`); `switch`:
`__DISAMBIG__`. Set index articles (`{{set index article}}`, `{{surname}}`, `{{given name}}`,
`{{ship index}}`, ...) are kept: they are articles about a set of things, not lists of other
pages that share a name.
"""

from __future__ import annotations

from mwparserfromhell.wikicode import Wikicode

from wiki.clean import ENGLISH, SiteNames, template_name
from wiki.dump import RawPage

SKIP_REASONS = ("namespace", "redirect", "disambiguation", "too_short")
DISAMBIGUATION_BY = ("title", "template", "category", "switch")

# Short names and redirects of the English Wikipedia's disambiguation templates that do not spell
# out "disambiguation"/"disambig" (those are matched by `is_disambiguation_template`).
DISAMBIGUATION_ALIASES = frozenset({
    "dab", "disamb", "dis", "disam", "dbig", "hndis", "geodis", "numberdis", "mathdab",
    "hospitaldis", "schooldis", "roaddis", "mil-unit-dis",
})


def is_disambiguation_template(name: str) -> bool:
    """`name` (as `template_name` gives it: trimmed, lower-case, `_` as space) is one of the
    disambiguation family: it says "disambiguation"/"disambig" ("Place name disambiguation",
    "Airport disambig", "Disambiguation cleanup"), or it is a short alias ("dab", "hndis")."""
    return "disambig" in name or name in DISAMBIGUATION_ALIASES or (
        name.endswith("dis") and " " not in name and len(name) <= 16 and name != "paradis")


def skip_before_cleaning(page: RawPage) -> str | None:
    """The reason to skip `page` that needs no parsing, or None."""
    if page.ns != 0:
        return "namespace"
    if page.redirect or page.text.lstrip()[:9].upper() == "#REDIRECT":
        return "redirect"
    if disambiguation_title(page.title):
        return "disambiguation"
    return None


def disambiguation_title(title: str) -> bool:
    """"Mercury (disambiguation)": a disambiguation page by its title."""
    return title.rstrip().lower().endswith("(disambiguation)")


def disambiguation_reason(code: Wikicode, site: SiteNames | None = None) -> str | None:
    """Why a parsed page is a disambiguation page ("template", "category", "switch"), or None.

    Templates are looked for at the top level (where the family is placed); categories among
    the page's links, with `site`'s category namespace names (default: English)."""
    site = site or ENGLISH
    for template in code.filter_templates(recursive=False):
        if is_disambiguation_template(template_name(template)):
            return "template"
    for link in code.filter_wikilinks(recursive=False):
        prefix, sep, rest = str(link.title).strip().partition(":")
        if sep and site.kind(prefix) == "category" and _disambiguation_category(rest):
            return "category"
    if any("__DISAMBIG__" in str(t) for t in code.filter_text(recursive=False)):
        return "switch"
    return None


def _disambiguation_category(name: str) -> bool:
    name = " ".join(name.replace("_", " ").split()).lower()
    return "disambiguation pages" in name


def is_disambiguation(code: Wikicode, site: SiteNames | None = None) -> bool:
    """A parsed page is a disambiguation page (`disambiguation_reason` is not None)."""
    return disambiguation_reason(code, site) is not None
