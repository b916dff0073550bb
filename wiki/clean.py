"""Wikitext to plain text with section structure, through mwparserfromhell's parse tree.

What goes: templates that carry no words of the sentence (wiki/templates.py sorts them; those
that carry words are rendered to them), tables, references, files/images, categories,
interlanguage links, HTML comments, tags (their words kept unless the tag holds non-prose,
`_DROP_TAGS`), behaviour switches, list items (unless asked for) and end-matter sections
(`DROP_SECTIONS`). A template that cannot be rendered and sits inside a sentence takes the whole
sentence with it (counted in `CleanPage.unrendered`): never a sentence with a hole. Which link
prefixes are namespaces, languages or interwikis comes from real lists (`SiteNames`). Links
become their visible text. Headings become `sections`: (title, level, start, end) character
offsets into the text; offsets are flat (a section's own body, its subsections excluded), and a
heading whose own body is empty but whose subsections have text is kept with start == end.
Paragraphs are separated by "\\n\\n".

Markup structure is never parsed with regular expressions. They only touch what the parser
hands back as plain text: the spacing left where markup was cut, and leftovers it could not pair
(stray apostrophe runs, unpaired formatting tags). An unpaired `<ref>` is cut by string search
in document order (`_Plain`). A paragraph still holding `MARKUP` after all that is dropped and
counted, so none reaches the output.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
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

from wiki import templates
from wiki.sitelists import (
    CANONICAL_NAMESPACES,
    CATEGORY_NAMESPACE,
    ENGLISH_NAMESPACES,
    INTERWIKI_PREFIXES,
    MEDIA_NAMESPACES,
    WIKIPEDIA_LANGUAGES,
)
from wiki.words import count_words

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

# Tags whose content is not prose (citations, tables, media, code). Formulas are `_FORMULA_TAGS`.
_DROP_TAGS = frozenset({
    "ref", "references", "table", "gallery", "score", "timeline",
    "imagemap", "graph", "mapframe", "maplink", "templatedata", "templatestyles",
    "syntaxhighlight", "source", "includeonly", "hiero", "inputbox", "categorytree",
    "indicator", "section",
})
# Formulas: a plain one (letters, digits, operators) is its own source text ("x + y = 2");
# TeX markup cannot be read as words, so the sentence around it goes.
_FORMULA_TAGS = frozenset({"math", "chem", "ce"})
_PLAIN_FORMULA = re.compile(r"[\w\s+\-=*/<>().,^'′]+")
_LIST_TAGS = frozenset({"li", "dt", "dd"})
_BREAK_TAGS = frozenset({"br", "hr"})
_BEHAVIOUR_SWITCHES = (
    "__NOTOC__", "__FORCETOC__", "__TOC__", "__NOEDITSECTION__", "__NEWSECTIONLINK__",
    "__NONEWSECTIONLINK__", "__NOGALLERY__", "__HIDDENCAT__", "__INDEX__", "__NOINDEX__",
    "__STATICREDIRECT__", "__DISAMBIG__", "__NOTITLECONVERT__", "__NOCONTENTCONVERT__",
)
_LIST_MARK = "\ue000"  # private-use character: marks a line that came from a list item
# Where a template (or formula) that could not be rendered was cut: \ue001<index>\ue002, the
# index into the walk's `unrendered` names. Private-use characters: never in real text.
_HOLE = re.compile(r"\ue001(\d+)\ue002")
# A hole right after a sentence's end sits where footnote markers do, not inside a sentence.
_HOLE_AFTER_END = re.compile(r"([.!?][\"'”’)\]]*)((?:\ue001\d+\ue002)+)")
# Sentence ends: punctuation, space, then a capital, digit, quote or hole. Only paragraphs that
# hold a hole are split (to drop the sentence that holds it), so a regex with an abbreviation
# guard is enough: a missed end drops two sentences, never leaves half of one.
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9\ue001])")
_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "st", "jr", "sr", "c", "ca", "fl", "no", "vs", "mt", "ft", "gen",
    "col", "lt", "prof", "rev", "inc", "co", "ltd", "sgt", "capt", "gov", "sen", "rep", "fig",
    "vol", "op", "pp", "p", "etc", "approx", "ed", "eds", "jan", "feb", "mar", "apr", "jun",
    "jul", "aug", "sep", "sept", "oct", "nov", "dec",
})
_INITIALISM = re.compile(r"(?:\w\.)+\w")

# What a cut pronunciation or footnote leaves in an aside: "( ; ; born 1879)", "(Shqipëri ;)".
_EMPTY_BRACKETS = re.compile(r"\((?:\s*[,;:])*\s*\)|\[\s*\]")
_OPEN_PAREN_JUNK = re.compile(r"\((?:\s*[,;:])*\s*")
_CLOSE_PAREN_JUNK = re.compile(r"(?:\s*[,;:])+\s*\)")
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
    """A cleaned page: plain `text`, its `sections`, how many paragraphs were dropped because
    malformed markup survived parsing (`markup_paragraphs_dropped`), and how many sentences were
    dropped because they held a template that could not be rendered, by template name
    (`unrendered`; "<math>" for a TeX formula). `words` is `count_words(text)`: whitespace words,
    with text in scripts written without spaces estimated (see wiki/words.py)."""

    text: str
    sections: list[Section]
    markup_paragraphs_dropped: int = 0
    unrendered: Counter = field(default_factory=Counter)
    words: int = field(init=False)

    def __post_init__(self):
        self.words = count_words(self.text)


def _norm_prefix(prefix: str) -> str:
    return " ".join(prefix.replace("_", " ").split()).lower()


class SiteNames:
    """What a link prefix (`[[prefix:rest]]`) is on this wiki: a namespace, a language edition
    (interlanguage link) or an interwiki prefix, from real lists, never from its shape.

    `namespaces` maps namespace names to their numbers, as a dump's `<siteinfo><namespaces>`
    header gives them (wiki/dump.py); None (jsonl, HF sources) uses the English Wikipedia's.
    The canonical File/Image/Media/Category names are always known (MediaWiki resolves them on
    every wiki).
    """

    def __init__(self, namespaces: Mapping[str, int] | None = None):
        names = ENGLISH_NAMESPACES if namespaces is None else namespaces
        self.namespaces = {_norm_prefix(k): v for k, v in CANONICAL_NAMESPACES.items()}
        self.namespaces.update((_norm_prefix(k), int(v)) for k, v in names.items() if k)

    def kind(self, prefix: str) -> str | None:
        """"media", "category", "namespace", "language", "interwiki", or None (an article)."""
        name = _norm_prefix(prefix)
        key = self.namespaces.get(name)
        if key in MEDIA_NAMESPACES:
            return "media"
        if key == CATEGORY_NAMESPACE:
            return "category"
        if key is not None and key != 0:
            return "namespace"
        if name in WIKIPEDIA_LANGUAGES:
            return "language"
        if name in INTERWIKI_PREFIXES:
            return "interwiki"
        return None


ENGLISH = SiteNames()


def parse(wikitext: str) -> Wikicode:
    """Parse wikitext (mwparserfromhell, C tokenizer)."""
    return mwparserfromhell.parse(wikitext)


def template_name(template: Template) -> str:
    """A template's name as MediaWiki resolves it: trimmed, case-folded, `_` as space."""
    name = str(template.name).strip().replace("_", " ").lower()
    return name.removeprefix("template:").strip()


def clean_wikicode(code: Wikicode, keep_lists: bool = False,
                   site: SiteNames | None = None) -> CleanPage:
    """Plain text and sections of a parsed page (see the module docstring for what is kept).

    `site`: the wiki's link prefixes (default: the English Wikipedia's)."""
    site = site or ENGLISH
    raw_sections: list[tuple[str, int, list]] = [("", 1, [])]
    for node in code.nodes:
        if isinstance(node, Heading):
            title = _HOLE.sub("", _Plain(site)(node.title.nodes))
            title = _tidy(title.replace(_LIST_MARK, " "))
            raw_sections.append((title, node.level, []))
        else:
            raw_sections[-1][2].append(node)

    text, sections, dropped, unrendered = "", [], 0, Counter()
    skip_below = None  # level of a dropped end-matter heading: its subsections go too
    for title, level, nodes in raw_sections:
        if skip_below is not None and level > skip_below:
            continue
        skip_below = None
        if level > 1 and title.lower() in DROP_SECTIONS:
            skip_below = level
            continue
        # a fresh walk per section: an unpaired <ref> does not swallow the next heading's text
        walk = _Plain(site)
        paragraphs, bad, holes = _paragraphs(walk(nodes), keep_lists, walk.unrendered)
        dropped += bad
        unrendered.update(walk.unrendered[i] for i in holes)
        body = "\n\n".join(paragraphs)
        start = len(text) + (2 if text and body else 0)
        if body:
            text = f"{text}\n\n{body}" if text else body
        sections.append(Section(title, level, start, start + len(body)))
    return CleanPage(text, _prune_empty(sections), dropped, unrendered)


def clean_plain(text: str) -> CleanPage:
    """Already plain text (HF wikipedia): paragraphs normalised, one lead section."""
    paragraphs, dropped, _ = _paragraphs(text, keep_lists=True)
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


def _paragraphs(raw: str, keep_lists: bool,
                names: list[str] = ()) -> tuple[list[str], int, list[int]]:
    """Split text into paragraphs at blank lines (MediaWiki's rule: single newlines join).

    List items are their own paragraph when kept. A line holding nothing but template holes (a
    template standing between paragraphs) loses them; a sentence holding a hole is dropped, and
    so is one continued by a formula on its own line (`names[i]` is hole i's template name,
    "<math>" for a formula). Returns (paragraphs, dropped for markup, the hole indices of the
    dropped sentences).
    """
    paragraphs: list[str] = []
    dropped = 0
    holes: list[int] = []
    lines: list[str] = []

    def flush():
        nonlocal dropped
        if lines:
            para = _tidy(" ".join(lines))
            lines.clear()
            if "\ue001" in para:
                para = _drop_hole_sentences(para, holes)
            if any(m in para for m in MARKUP):
                dropped += 1
            elif _ALNUM.search(para):
                paragraphs.append(para)

    for line in raw.split("\n"):
        if "\ue001" in line and not _ALNUM.search(_HOLE.sub("", line).replace("_", "")) and not any(
                names[int(i)].startswith("<") for i in _HOLE.findall(line)):
            line = _HOLE.sub("", line)  # a stand-alone template: no sentence around it
        if _LIST_MARK in line and "\ue001" in line and not _ALNUM.search(_HOLE.sub("", line)):
            line = line.replace(_LIST_MARK, " ")  # ":<math>...</math>,": part of the sentence
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
    return paragraphs, dropped, holes


def _drop_hole_sentences(para: str, holes: list[int]) -> str:
    """`para` without its sentences that hold a hole; their hole indices appended to `holes`."""
    para = _HOLE_AFTER_END.sub(r"\1", para)
    kept = []
    for sentence in _sentences(para):
        found = [int(i) for i in _HOLE.findall(sentence)]
        if found:
            holes.extend(found)
        else:
            kept.append(sentence)
    return " ".join(kept)


def _sentences(para: str) -> list[str]:
    """Split a paragraph at sentence ends, not after abbreviations and initials ("St.", "J.")."""
    out, start = [], 0
    for match in _SENTENCE_END.finditer(para):
        before = para[start:match.start()].split()
        word = before[-1].lstrip("(\"'“").lower() if before else ""
        if para[match.start()] == "." and (
                word in _ABBREVIATIONS or len(word) == 1 or _INITIALISM.fullmatch(word)):
            continue
        out.append(para[start:match.end()].strip())
        start = match.end()
    out.append(para[start:].strip())
    return [s for s in out if s]


def _introduces_list(paragraph: str) -> bool:
    """A lead-in ending in a colon, or a short caption with no sentence end, before a list."""
    return paragraph.endswith(":") or (len(paragraph.split()) < 4
                                       and not paragraph.endswith((".", "!", "?", '"')))


def _tidy(text: str) -> str:
    """Collapse whitespace and the holes cut markup leaves ("word ." and "( ; born)")."""
    text = _EMPTY_BRACKETS.sub("", text)
    text = _OPEN_PAREN_JUNK.sub("(", text)
    text = _CLOSE_PAREN_JUNK.sub(")", text)
    text = " ".join(text.split())
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text).strip()


class _Plain:
    """Plain text of node lists, walked in document order.

    mwparserfromhell leaves a `<ref>` it cannot pair (unbalanced quotes inside, say) as text,
    and the rest of the citation as later nodes, possibly at another nesting depth (inside an
    italic run that the same quotes opened). So whether we are inside such a ref is state of
    the walk, not of one node list: from the opening to its `</ref>` everything is cut.
    """

    def __init__(self, site: SiteNames):
        self.in_ref = False
        self.site = site
        self.unrendered: list[str] = []  # names of the templates cut where a hole is marked
        self.tail = "\n"  # the last non-blank character walked so far: "\n" at a line start

    def hole(self, name: str) -> str:
        self.unrendered.append(name)
        return f"\ue001{len(self.unrendered) - 1}\ue002"

    def __call__(self, nodes) -> str:
        out = []
        for n in nodes:
            text = self.node(n)
            out.append(text)
            shown = text.rstrip(" \t")
            if shown:
                self.tail = shown[-1]
        return "".join(out)

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
        prefix, sep, rest = title.partition(":")
        kind = self.site.kind(prefix) if sep else None
        # [[:Category:X]], [[:fr:Paris]] are ordinary, visible links
        if kind in ("media", "category", "language") and not title.startswith(":"):
            return ""
        if link.text is not None:
            return self(link.text.nodes)
        shown = self(link.title.nodes).strip().removeprefix(":")  # entities (&nbsp;) resolved
        if kind == "interwiki":  # [[wikt:quay]]: the word, not the prefix
            return shown.partition(":")[2].strip()
        return shown

    def tag(self, tag: Tag) -> str:
        name = str(tag.tag).strip().lower()
        if name in _LIST_TAGS and (tag.wiki_markup or tag.self_closing):
            return _LIST_MARK  # the item's words follow as siblings up to the end of the line
        if name in _DROP_TAGS:
            return ""
        if name in _FORMULA_TAGS:
            source = str(tag.contents or "").strip()
            return source if _PLAIN_FORMULA.fullmatch(source) else self.hole(f"<{name}>")
        if name in _BREAK_TAGS:
            return "\n"
        if tag.contents is None:
            return ""
        inner = self(tag.contents.nodes)
        if name == "li":  # an HTML <li>...</li>: a list line of its own
            return f"\n{_LIST_MARK}{inner}\n"
        return inner

    def template(self, template: Template) -> str:
        """Its words (wiki/templates.py), nothing, or a hole for the paragraph step to judge."""
        name = template_name(template)
        kind, render = templates.classify(name)
        if kind in (templates.WORDLESS, templates.BLOCK):
            return ""
        if kind == templates.UNKNOWN:
            if self.tail == "\n" and "\n" in str(template).strip():
                return ""  # starts a line and spans lines: an infobox-like block
            return self.hole(name.split(":", 1)[0])
        args = [self(p.value.nodes).strip() for p in template.params if not p.showkey]
        named = {str(p.name).strip().lower(): self(p.value.nodes).strip()
                 for p in template.params if p.showkey}
        if ":" in name:  # a parser function: {{lc:WORD}} holds its argument in the name
            args.insert(0, self(template.name.nodes).split(":", 1)[1].strip())
        text = render(args, named)
        return self.hole(name) if text is None else text


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
