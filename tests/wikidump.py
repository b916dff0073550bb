"""Tiny MediaWiki XML exports written by the tests themselves (plain, .bz2)."""

from __future__ import annotations

import bz2
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

HEADER = """\
<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="en">
  <siteinfo>
    <sitename>Wikipedia</sitename>
    <namespaces>
      <namespace key="0" case="first-letter" />
      <namespace key="4" case="first-letter">Wikipedia</namespace>
      <namespace key="14" case="first-letter">Category</namespace>
    </namespaces>
  </siteinfo>
"""

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


def dump_xml(pages: list[dict]) -> str:
    """A whole export: `pages` are keyword arguments of `page_xml`."""
    return HEADER + "".join(page_xml(**p) for p in pages) + "</mediawiki>\n"


def articles(n: int, start_id: int = 1) -> list[dict]:
    """`n` ordinary articles, titles Town 1..n."""
    return [{"title": f"Town {i}", "text": ARTICLE.format(title=f"Town {i}"), "page_id": i}
            for i in range(start_id, start_id + n)]


def write_dump(path: Path, pages: list[dict]) -> Path:
    """Write an export, bz2-compressed when `path` ends in .bz2."""
    data = dump_xml(pages).encode()
    # level 1: 100 kB blocks, so a few hundred pages already span several blocks
    path.write_bytes(bz2.compress(data, compresslevel=1) if path.suffix == ".bz2" else data)
    return path
