"""Tiny MediaWiki XML exports written by the tests themselves (plain, .bz2)."""

from __future__ import annotations

import bz2
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

ENGLISH_NAMESPACES = {4: "Wikipedia", 14: "Category"}


def header(namespaces: dict[int, str] = ENGLISH_NAMESPACES, lang: str = "en") -> str:
    """The `<mediawiki>` opening and `<siteinfo>` with these namespaces (key -> name)."""
    rows = "".join(f'      <namespace key="{k}" case="first-letter">{escape(v)}</namespace>\n'
                   for k, v in namespaces.items())
    return (f'<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" '
            f'xml:lang="{lang}">\n  <siteinfo>\n    <sitename>Wikipedia</sitename>\n'
            f'    <namespaces>\n      <namespace key="0" case="first-letter" />\n{rows}'
            f'    </namespaces>\n  </siteinfo>\n')


HEADER = header()

ARTICLE = ("'''{title}''' is a small [[town]] in the [[Example Valley|valley]] of nowhere. "
           "It has a river, a bridge and a market that opens on Sundays.<ref>A source.</ref>\n\n"
           "== History ==\nThe town was founded in 1850 by farmers who came from the coast.\n")


def page_xml(title: str, text: str, page_id: int, ns: int = 0,
             redirect: str | None = None) -> str:
    """One <page> element as a dump writes it (revision, contributor and all)."""
    redirect_el = f"    <redirect title={quoteattr(redirect)} />\n" if redirect else ""
    return (f"  <page>\n    <title>{escape(title)}</title>\n    <ns>{ns}</ns>\n"
            f"    <id>{page_id}</id>\n{redirect_el}    <revision>\n      <id>{page_id * 7}</id>\n"
            f"      <contributor><username>Bot</username><id>99</id></contributor>\n"
            f"      <model>wikitext</model>\n      <format>text/x-wiki</format>\n"
            f"      <text xml:space=\"preserve\" bytes=\"{len(text)}\">{escape(text)}</text>\n"
            f"    </revision>\n  </page>\n")


def dump_xml(pages: list[dict], head: str = HEADER) -> str:
    """A whole export: `pages` are keyword arguments of `page_xml`; `head` from `header()`."""
    return head + "".join(page_xml(**p) for p in pages) + "</mediawiki>\n"


def articles(n: int, start_id: int = 1) -> list[dict]:
    """`n` ordinary articles, titles Town 1..n."""
    return [{"title": f"Town {i}", "text": ARTICLE.format(title=f"Town {i}"), "page_id": i}
            for i in range(start_id, start_id + n)]


def write_dump(path: Path, pages: list[dict], head: str = HEADER) -> Path:
    """Write an export, bz2-compressed when `path` ends in .bz2."""
    data = dump_xml(pages, head).encode()
    # level 1: 100 kB blocks, so a few hundred pages already span several blocks
    path.write_bytes(bz2.compress(data, compresslevel=1) if path.suffix == ".bz2" else data)
    return path
