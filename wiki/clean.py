"""Wikitext to plain text with section structure, through mwparserfromhell's parse tree.

What goes: templates (except a few that carry inline words, `_INLINE_TEMPLATES`), tables,
references, files/images, categories, interlanguage links, HTML comments, tags (their words kept
unless the tag holds non-prose, `_DROP_TAGS`), behaviour switches, list items (unless asked for)
and end-matter sections (`DROP_SECTIONS`). Links become their visible text. Headings become
`sections`: (title, level, start, end) character offsets into the text; offsets are flat (a
section's own body, its subsections excluded), and a heading whose own body is empty but whose
subsections have text is kept with start == end. Paragraphs are separated by "\\n\\n".

Markup structure is never parsed with regular expressions. They only touch what the parser
hands back as plain text: the spacing left where markup was cut, and leftovers it could not pair
(stray apostrophe runs, unpaired formatting tags). An unpaired `<ref>` is cut by string search
in document order (`_Plain`). A paragraph still holding `MARKUP` after all that is dropped and
counted, so none reaches the output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import mwparserfromhell
from mwparserfromhell.nodes import (
    Argument,
    Comment,
    ExternalLink,
    Heading,
    HTMLEntity,
    Tag,
    Template,
    Text,
    Wikilink,
)
from mwparserfromhell.wikicode import Wikicode

# Text that must never reach the output: one of these in a cleaned paragraph means the parser
# met malformed wikitext it could not structure; the paragraph is dropped and counted.
MARKUP = ("{{", "}}", "[[", "]]", "<ref", "|-", "'''", "{|", "|}")

# End matter: lists of citations and links, not prose. Matched case-insensitively; subsections
# go with them.
DROP_SECTIONS = frozenset({
    "see also", "references", "notes", "footnotes", "citations", "sources", "bibliography",
    "further reading", "external links", "external link", "notes and references",
    "references and notes", "works cited", "literature", "primary sources", "secondary sources",
})

# Link namespaces that are not running text (media, category tags).
_DROP_LINK_PREFIXES = frozenset({"file", "image", "media", "category"})
# Interlanguage links ([[fr:Paris]]) sit at the end of old revisions and render nowhere inline.
_LANGUAGE_PREFIX = re.compile(r"^(?:[a-z]{2,3}(?:-[a-z]+)*|simple)$")
# Tags whose content is not prose (citations, tables, formulas, media, code).
_DROP_TAGS = frozenset({
    "ref", "references", "table", "gallery", "math", "chem", "ce", "score", "timeline",
    "imagemap", "graph", "mapframe", "maplink", "templatedata", "templatestyles",
    "syntaxhighlight", "source", "includeonly", "hiero", "inputbox", "categorytree",
    "indicator", "section",
})
_LIST_TAGS = frozenset({"li", "dt", "dd"})
_BREAK_TAGS = frozenset({"br", "hr"})
# Templates that wrap words of the sentence: which positional parameter holds them. Dropping
# them would leave holes ("an area of  in 1900"). Every other template is removed.
_INLINE_TEMPLATES = {
    "nowrap": 1, "nobr": 1, "small": 1, "smaller": 1, "big": 1, "lang": 2, "nihongo": 1,
    "ill": 1, "transl": -1, "convert": 0, "cvt": 0,
}
_CONVERT_RANGE = frozenset({"to", "-", "–", "and", "or", "by", "x", "×", "to(-)", "+/-", "±"})
_BEHAVIOUR_SWITCHES = (
    "__NOTOC__", "__FORCETOC__", "__TOC__", "__NOEDITSECTION__", "__NEWSECTIONLINK__",
    "__NONEWSECTIONLINK__", "__NOGALLERY__", "__HIDDENCAT__", "__INDEX__", "__NOINDEX__",
    "__STATICREDIRECT__", "__DISAMBIG__", "__NOTITLECONVERT__", "__NOCONTENTCONVERT__",
)
_LIST_MARK = "\ue000"  # private-use character: marks a line that came from a list item

_EMPTY_BRACKETS = re.compile(r"\(\s*[,;:]?\s*\)|\[\s*\]")
_OPEN_PAREN_JUNK = re.compile(r"\(\s*[,;:]?\s*")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?)\]])")
_ALNUM = re.compile(r"\w")
_QUOTE_RUN = re.compile(r"'{2,}")
# An opening or closing formatting tag the parser could not pair stays as text ("</blockquote>").
_STRAY_TAG = re.compile(
    r"</?(?:blockquote|div|span|small|big|center|sup|sub|p|poem|font|u|s|i|b|em|strong|code|tt"
    r"|abbr|cite|q|del|ins|strike|br|nowiki|includeonly|noinclude|onlyinclude)\b[^<>]*>",
    re.IGNORECASE)


@dataclass
class Section:
    """A heading of the page: `title` ("" for the lead), `level` (1 lead, 2 for `== H ==`, ...),
    and its own body as character offsets [start, end) into the page text."""

    title: str
    level: int
    start: int
    end: int

    def to_dict(self) -> dict:
        return {"title": self.title, "level": self.level, "start": self.start, "end": self.end}


@dataclass
class CleanPage:
    """A cleaned page: plain `text`, its `sections`, and how many paragraphs were dropped
    because malformed markup survived parsing (`markup_paragraphs_dropped`)."""

    text: str
    sections: list[Section]
    markup_paragraphs_dropped: int = 0
    words: int = field(init=False)

    def __post_init__(self):
        self.words = len(self.text.split())


def parse(wikitext: str) -> Wikicode:
    """Parse wikitext (mwparserfromhell, C tokenizer)."""
    return mwparserfromhell.parse(wikitext)


def template_name(template: Template) -> str:
    """A template's name as MediaWiki resolves it: trimmed, case-folded, `_` as space."""
    name = str(template.name).strip().replace("_", " ").lower()
    return name.removeprefix("template:").strip()


def clean_wikicode(code: Wikicode, keep_lists: bool = False) -> CleanPage:
    """Plain text and sections of a parsed page (see the module docstring for what is kept)."""
    raw_sections: list[tuple[str, int, list]] = [("", 1, [])]
    for node in code.nodes:
        if isinstance(node, Heading):
            title = _tidy(_Plain()(node.title.nodes).replace(_LIST_MARK, " "))
            raw_sections.append((title, node.level, []))
        else:
            raw_sections[-1][2].append(node)

    text, sections, dropped = "", [], 0
    skip_below = None  # level of a dropped end-matter heading: its subsections go too
    for title, level, nodes in raw_sections:
        if skip_below is not None and level > skip_below:
            continue
        skip_below = None
        if level > 1 and title.lower() in DROP_SECTIONS:
            skip_below = level
            continue
        # a fresh walk per section: an unpaired <ref> does not swallow the next heading's text
        paragraphs, bad = _paragraphs(_Plain()(nodes), keep_lists)
        dropped += bad
        body = "\n\n".join(paragraphs)
        start = len(text) + (2 if text and body else 0)
        if body:
            text = f"{text}\n\n{body}" if text else body
        sections.append(Section(title, level, start, start + len(body)))
    return CleanPage(text, _prune_empty(sections), dropped)


def clean_plain(text: str) -> CleanPage:
    """Already plain text (HF wikipedia): paragraphs normalised, one lead section."""
    paragraphs, dropped = _paragraphs(text, keep_lists=True)
    body = "\n\n".join(paragraphs)
    return CleanPage(body, [Section("", 1, 0, len(body))], dropped)


def _prune_empty(sections: list[Section]) -> list[Section]:
    """Drop empty sections except the lead and headings whose subsections have text.

    An empty kept heading points at where its first subsection's text starts.
    """
    kept: list[Section] = []
    for i, sec in enumerate(sections):
        if i == 0 or sec.start < sec.end:
            kept.append(sec)
            continue
        for later in sections[i + 1:]:
            if later.level <= sec.level:
                break
            if later.start < later.end:
                kept.append(Section(sec.title, sec.level, later.start, later.start))
                break
    return kept


def _paragraphs(raw: str, keep_lists: bool) -> tuple[list[str], int]:
    """Split text into paragraphs at blank lines (MediaWiki's rule: single newlines join).

    List items are their own paragraph when kept. Returns (paragraphs, dropped for markup).
    """
    paragraphs: list[str] = []
    dropped = 0
    lines: list[str] = []

    def flush():
        nonlocal dropped
        if lines:
            para = _tidy(" ".join(lines))
            lines.clear()
            if any(m in para for m in MARKUP):
                dropped += 1
            elif _ALNUM.search(para):
                paragraphs.append(para)

    for line in raw.split("\n"):
        if _LIST_MARK in line:
            flush()
            if keep_lists:
                lines.append(line.replace(_LIST_MARK, " "))
                flush()
            elif paragraphs and _introduces_list(paragraphs[-1]):
                paragraphs.pop()  # "Novels:", "'''Delaware'''": a caption of what was cut
            continue
        if line.strip():
            lines.append(line)
        else:
            flush()
    flush()
    return paragraphs, dropped


def _introduces_list(paragraph: str) -> bool:
    """A lead-in ending in a colon, or a short caption with no sentence end, before a list."""
    return paragraph.endswith(":") or (len(paragraph.split()) < 4
                                       and not paragraph.endswith((".", "!", "?", '"')))


def _tidy(text: str) -> str:
    """Collapse whitespace and the holes cut markup leaves ("word ." and "( ; born)")."""
    text = _EMPTY_BRACKETS.sub("", text)
    text = _OPEN_PAREN_JUNK.sub("(", text)
    text = " ".join(text.split())
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text).strip()


class _Plain:
    """Plain text of node lists, walked in document order.

    mwparserfromhell leaves a `<ref>` it cannot pair (unbalanced quotes inside, say) as text,
    and the rest of the citation as later nodes, possibly at another nesting depth (inside an
    italic run that the same quotes opened). So whether we are inside such a ref is state of
    the walk, not of one node list: from the opening to its `</ref>` everything is cut.
    """

    def __init__(self):
        self.in_ref = False

    def __call__(self, nodes) -> str:
        return "".join(self.node(n) for n in nodes)

    def node(self, node) -> str:
        if isinstance(node, Text):
            return _text(self.cut_refs(node.value))
        if isinstance(node, Tag):  # walked even inside a ref: its `</ref>` may be in there
            return self.tag(node)
        if self.in_ref:
            return ""
        if isinstance(node, Wikilink):
            return self.link(node)
        if isinstance(node, Template):
            return self.template(node)
        if isinstance(node, HTMLEntity):
            return node.normalize()
        if isinstance(node, ExternalLink):
            # "[http://x Title]" shows Title; a bare or numbered URL is not prose.
            return self(node.title.nodes) if node.brackets and node.title else ""
        if isinstance(node, (Comment, Argument)):
            return ""
        if isinstance(node, Heading):  # a heading nested in a tag: keep only the break
            return "\n\n"
        raise TypeError(f"unhandled wikitext node {type(node).__name__}")

    def cut_refs(self, value: str) -> str:
        """Cut unpaired `<ref ...>...</ref>` (and `<ref .../>`, stray `</ref>`) left as text."""
        kept: list[str] = []
        while True:
            if self.in_ref:
                end = value.find("</ref>")
                if end < 0:
                    break
                value, self.in_ref = value[end + len("</ref>"):], False
            i = value.find("<ref")
            if i < 0:
                kept.append(value.replace("</ref>", ""))
                break
            kept.append(value[:i].replace("</ref>", ""))
            close = value.find(">", i)
            if close >= 0 and value[close - 1] == "/":
                value = value[close + 1:]
            else:
                value, self.in_ref = value[i:], True
        return "".join(kept)

    def link(self, link: Wikilink) -> str:
        title = str(link.title).strip()
        if not title.startswith(":"):  # [[:Category:X]] is an ordinary, visible link
            prefix, sep, _ = title.partition(":")
            prefix = prefix.strip().lower()
            if sep and (prefix in _DROP_LINK_PREFIXES or _LANGUAGE_PREFIX.match(prefix)):
                return ""
        if link.text is not None:
            return self(link.text.nodes)
        return self(link.title.nodes).strip().removeprefix(":")  # entities (&nbsp;) resolved

    def tag(self, tag: Tag) -> str:
        name = str(tag.tag).strip().lower()
        if name in _LIST_TAGS and (tag.wiki_markup or tag.self_closing):
            return _LIST_MARK  # the item's words follow as siblings up to the end of the line
        if name in _DROP_TAGS:
            return ""
        if name in _BREAK_TAGS:
            return "\n"
        if tag.contents is None:
            return ""
        inner = self(tag.contents.nodes)
        if name == "li":  # an HTML <li>...</li>: a list line of its own
            return f"\n{_LIST_MARK}{inner}\n"
        return inner

    def template(self, template: Template) -> str:
        name = template_name(template)
        which = _INLINE_TEMPLATES.get(name)
        if which is None:
            return ""
        args = [self(p.value.nodes).strip() for p in template.params if not p.showkey]
        if not args:
            return ""
        if which == 0:  # {{convert|5|km|mi}} -> "5 km"; {{convert|5|to|10|km}} -> "5 to 10 km"
            if len(args) >= 4 and args[1] in _CONVERT_RANGE:
                return " ".join(args[:4])
            return " ".join(args[:2])
        if which == -1:
            return args[-1]
        return args[which - 1] if len(args) >= which else ""


def _text(value: str) -> str:
    """A text node's words: behaviour switches, stray tags and stray quote marks removed.

    Apostrophe runs the parser did not pair into bold/italic are formatting marks; the one run
    that hides a real apostrophe is italics closing after a possessive (Iliad + ''' + s).
    """
    if "__" in value:
        for switch in _BEHAVIOUR_SWITCHES:
            value = value.replace(switch, "")
    if "''" in value:
        value = _QUOTE_RUN.sub(_quote_run, value)
    if "<" in value:
        value = _STRAY_TAG.sub("", value)
    return value


def _quote_run(match: re.Match) -> str:
    start = match.start()
    after_word = start > 0 and match.string[start - 1].isalnum()
    return "'" if len(match.group(0)) in (3, 4) and after_word else ""
