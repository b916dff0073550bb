"""Which wikitext templates carry words of the sentence, and how each is rendered to them.

`classify(name)` sorts a template (its name as `template_name` gives it) into one of:
- RENDER: a renderer in `RENDERERS` (or a family prefix in `_RENDER_PREFIXES`) turns its
  arguments into the words the reader sees ("{{sortname|Maria|Lopez}}" -> "Maria Lopez",
  "{{val|878.4|0.5|u=s}}" -> "878.4 ± 0.5 s", "{{birth date|1815|12|10}}" -> "10 December 1815").
- WORDLESS: shows no words of the sentence (citations, footnotes, maintenance tags, pronunciation
  aids, icons): removed wherever it is, which leaves no hole.
- BLOCK: page furniture (infoboxes, navboxes, hatnotes, stub tags, ...): removed.
- UNKNOWN: anything else. The cleaner removes it when it stands on its own line (or spans lines,
  as infoboxes do), and drops the whole sentence when it sits inside one: an unknown inline
  template may carry words, and a sentence with a hole is worse than no sentence.

No library renders templates offline (MediaWiki expands them from the wiki's Template and Module
pages), hence this table of the common word-carrying ones.
"""

from __future__ import annotations

from collections.abc import Callable

RENDER, WORDLESS, BLOCK, UNKNOWN = "render", "wordless", "block", "unknown"

Args = list[str]       # positional arguments, already rendered to plain text and stripped
Named = dict[str, str]  # named arguments, same
Renderer = Callable[[Args, Named], "str | None"]  # None: cannot render these arguments

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
_CONVERT_RANGE = frozenset({"to", "-", "–", "and", "or", "by", "x", "×", "to(-)", "+/-", "±",
                            "and(-)", "or(-)", "to about"})


def _arg(i: int) -> Renderer:
    """The i-th positional argument (0-based; -1 the last)."""
    return lambda a, k: (a[i] or None) if (len(a) > i if i >= 0 else a) else None


def _const(text: str) -> Renderer:
    return lambda a, k: text


def _joined(sep: str) -> Renderer:
    return lambda a, k: sep.join(x for x in a if x) or None


def _prefixed(prefix: str) -> Renderer:
    return lambda a, k: f"{prefix}{a[0]}" if a and a[0] else None


def _sortname(a: Args, k: Named) -> str | None:
    """{{sortname|First|Last|...}} shows "First Last"."""
    return " ".join(x for x in a[:2] if x) or None


def _nihongo(a: Args, k: Named) -> str | None:
    """{{nihongo|English|kanji|romaji}}: the English term, else the romaji, else the kanji."""
    for i in (0, 2, 1):
        if len(a) > i and a[i]:
            return a[i]
    return None


def _ill(a: Args, k: Named) -> str | None:
    """{{ill|Target|lang|foreign title|lt=label}}: the label, else the target title."""
    return k.get("lt") or (a[0] if a and a[0] else None)


def _named_or_first(a: Args, k: Named) -> str | None:
    """{{zh|c=北京|p=Běijīng}}, {{korean|hangul=...}}: the given forms, "; "-joined."""
    return "; ".join(v for v in k.values() if v) or (a[0] if a and a[0] else None)


def _convert(a: Args, k: Named) -> str | None:
    """{{convert|5|km|mi}} -> "5 km"; {{convert|5|to|10|km}} -> "5 to 10 km" (as written)."""
    if len(a) >= 4 and a[1] in _CONVERT_RANGE:
        return " ".join(a[:4])
    if len(a) >= 2 and a[0] and a[1]:
        return f"{a[0]} {a[1]}"
    return None


def _val(a: Args, k: Named) -> str | None:
    """{{val|878.4|0.5|e=3|u=s}} -> "878.4 ± 0.5 × 10^3 s" ({{val|1|+2|-3}} -> "1 +2 -3")."""
    if not a or not a[0]:
        return None
    words = [a[0]]
    if len(a) >= 3 and a[1] and a[2]:
        words += [a[1], a[2]]
    elif len(a) >= 2 and a[1]:
        words += ["±", a[1]]
    if k.get("e"):
        words += ["×", f"10^{k['e']}"]
    unit = k.get("u") or k.get("ul") or k.get("up") or k.get("upl")
    if unit:
        words.append(unit)
    return " ".join(words)


def _frac(a: Args, k: Named) -> str | None:
    """{{frac|2}} -> "1/2"; {{frac|3|4}} -> "3/4"; {{frac|1|3|4}} -> "1 3/4"."""
    if len(a) == 1:
        return f"1/{a[0]}"
    if len(a) == 2:
        return f"{a[0]}/{a[1]}"
    if len(a) >= 3:
        return f"{a[0]} {a[1]}/{a[2]}"
    return None


def _quote(a: Args, k: Named) -> str | None:
    """{{quote|text|author}} or text= / quote=: the quoted words (attribution left out)."""
    return k.get("text") or k.get("quote") or (a[0] if a and a[0] else None)


def _date(a: Args, k: Named) -> str | None:
    """{{birth date|1815|12|10}} -> "10 December 1815"; year-month and year alone too."""
    parts = [x for x in a[:3] if x]
    if not parts or not parts[0].isdigit():
        return None
    year = parts[0]
    month = parts[1] if len(parts) > 1 else None
    if month is not None:
        if month.isdigit() and 1 <= int(month) <= 12:
            month = MONTHS[int(month) - 1]
        elif month.capitalize() not in MONTHS:
            return None
        month = month.capitalize()
    day = parts[2] if len(parts) > 2 else None
    if day is not None and not (day.isdigit() and 1 <= int(day) <= 31):
        return None
    return " ".join(str(x) for x in (day and int(day), month, year) if x)


def _as_of(a: Args, k: Named) -> str | None:
    """{{as of|2020|5}} -> "As of May 2020" (lower-cased with lc=y)."""
    when = _date(a, k)
    if when is None:
        return None
    return f"{'as' if k.get('lc') else 'As'} of {when}"


# name (as `template_name` gives it) -> renderer. Keep sorted by kind.
RENDERERS: dict[str, Renderer] = {
    # names and foreign-language terms
    "sortname": _sortname, "nihongo": _nihongo, "nihongo2": _arg(0), "nihongo3": _nihongo,
    "lang": _arg(1), "langx": _arg(1), "native name": _arg(1), "transl": _arg(-1),
    "transliteration": _arg(-1), "ill": _ill, "interlanguage link": _ill,
    "interlanguage link multi": _ill, "illm": _ill,
    "korean": _named_or_first, "zh": _named_or_first,
    "script": _arg(1),
    "ipa": _arg(-1),  # {{IPA|[a]}}: a transcription that is what the sentence is about
    "lit": lambda a, k: f'lit. "{a[0]}"' if a and a[0] else None,
    "literally": lambda a, k: f'lit. "{a[0]}"' if a and a[0] else None, "nobold": _arg(0),
    "noitalic": _arg(0), "spaces": _const(" "), "keypress": _joined(" + "),
    # formatting that wraps words
    "nowrap": _arg(0), "nobr": _arg(0), "small": _arg(0), "smaller": _arg(0), "big": _arg(0),
    "larger": _arg(0), "large": _arg(0), "resize": _arg(-1), "smallcaps": _arg(0), "sc": _arg(0),
    "abbr": _arg(0),
    "abbrlink": _arg(0), "em": _arg(0), "strong": _arg(0), "var": _arg(0), "mvar": _arg(0),
    "math": _arg(0), "tooltip": _arg(0), "vanchor": _arg(0), "visible anchor": _arg(0),
    "sic": _joined(""), "not a typo": _joined(""), "as written": _joined(""),
    "proper name": _arg(0), "linktext": _joined(""), "sup": _arg(0), "sub": _arg(0),
    "sort": _arg(-1), "flag": _arg(0), "flagcountry": _arg(0), "citation needed span": _arg(0),
    "cns": _arg(0), "clarify span": _arg(0), "lc": lambda a, k: a[0].lower() if a else None,
    "uc": lambda a, k: a[0].upper() if a else None,
    "ucfirst": lambda a, k: a[0][:1].upper() + a[0][1:] if a else None,
    "lcfirst": lambda a, k: a[0][:1].lower() + a[0][1:] if a else None,
    "formatnum": _arg(0),  # lc, uc, ...: parser functions, {{lc:X}} (see classify)
    # values with units
    "convert": _convert, "cvt": _convert, "val": _val, "frac": _frac, "sfrac": _frac,
    "fraction": _frac, "circa": _prefixed("c. "), "c.": _prefixed("c. "), "ca.": _prefixed("c. "),
    "floruit": _prefixed("fl. "), "fl.": _prefixed("fl. "), "us$": _prefixed("US$"),
    "usd": _prefixed("US$"), "gbp": _prefixed("£"), "£": _prefixed("£"), "€": _prefixed("€"),
    "eur": _prefixed("€"), "inr": _prefixed("₹"), "jpy": _prefixed("¥"),
    # quotations
    "quote": _quote, "cquote": _quote, "quotation": _quote, "blockquote": _quote,
    "quote box": _quote, "pull quote": _quote, "rquote": _quote, "poem quote": _quote,
    "centered pull quote": _quote, "quote frame": _quote, "gi": _arg(0), "qi": _arg(0),
    # dates
    "birth date": _date, "death date": _date, "start date": _date, "end date": _date,
    "birth date and age": _date, "death date and age": _date, "start date and age": _date,
    "dob": _date, "bda": _date, "dda": _date, "date": _arg(0), "birth year and age": _arg(0),
    "death year and age": _arg(0), "birth-date": _arg(-1), "death-date": _arg(-1),
    "as of": _as_of, "release date": _date,
    # punctuation and spacing
    "'": _const("'"), "'s": _const("'s"), "\"'": _const("\"'"), "snd": _const(" – "),
    "spnd": _const(" – "), "spaced ndash": _const(" – "), "ndash": _const("–"),
    "mdash": _const("—"), "spaced en dash": _const(" – "), "nbsp": _const(" "),
    "dot": _const(" · "), "middot": _const("·"), "·": _const(" · "), "•": _const(" • "),
    "snds": _const(" – "), "en dash": _const("–"), "em dash": _const("—"),
    "mdashb": _const(" — "), "angbr": lambda a, k: f"⟨{a[0]}⟩" if a and a[0] else None,
    "e": _prefixed("×10^"), "chem": _joined(""), "rtl-lang": _arg(1),
}
# family prefix -> renderer: {{lang-fr|texte}}, {{langx-..}}.
_RENDER_PREFIXES = (("lang-", _arg(0)),)

WORDLESS_NAMES = frozenset({
    "cn", "fact", "citation needed", "clarify", "when", "who", "which", "by whom",
    "according to whom", "vague", "dubious", "failed verification", "verification needed",
    "better source needed", "better source", "page needed", "pages needed", "year needed",
    "full citation needed", "unreliable source?", "self-published inline", "primary source inline",
    "specify", "original research inline", "or", "update inline", "dead link", "webarchive",
    "cbignore", "toc", "clear", "-", "anchor", "anchors", "shy", "zwsp", "wbr", "break", "r",
    "rp", "refn", "efn", "note", "ref label", "note label", "notetag", "citation", "sfnp", "sfn",
    "flagicon", "flag icon", "flagdeco", "increase", "decrease", "steady", "nowrap begin",
    "nowrap end", "pb", "wikisource", "which?", "clarification needed", "cite", "harvnb",
    "harv", "harvp", "harvtxt", "rs", "disputed inline", "irrelevant citation",
    "attribution needed", "nbs", "nbsp;", "audio", "respell", "pronunciation", "listen",
    "coord missing", "cleanup", "clarify-inline", "dubious inline", "opinion", "peacock inline",
    "weasel inline", "when?", "where", "where?", "why", "why?", "how", "how?",
    "qualify evidence", "dubious-inline", "fv",
})
# "ipa-", "ipac-": pronunciation guides ("French pronunciation: [paʁi]") in a lead's aside.
_WORDLESS_PREFIXES = ("cite ", "sfn", "efn", "harv", "ipa-", "ipac-", "citation needed ",
                      "refn", "reflist", "ref ", "notelist", "#tag:ref")

_BLOCK_NAMES = frozenset({
    "about", "for", "other uses", "redirect", "distinguish", "main", "see also", "further",
    "details", "portal", "commons", "commons category", "wiktionary", "wikiquote",
    "authority control", "multiple issues", "good article", "featured article", "italic title",
    "lowercase title", "refbegin", "refend", "div col", "div col end", "columns-list", "clear",
    "tocright", "succession box", "external media", "multiple image", "wide image", "image",
    "gallery", "unreferenced", "refimprove", "more citations needed", "one source",
    "primary sources", "orphan", "dead end", "advert", "pov", "update", "citation style",
    "cleanup", "copy edit", "notability", "globalize", "technical", "weasel", "peacock",
    "expand section", "empty section", "coord missing", "geobox", "chembox", "drugbox",
    "track listing", "episode list", "football box", "location map", "reflist", "notelist",
    "hatnote", "selfref", "self reference", "self-reference", "dablink", "further information",
    "main article", "main list", "broader", "persondata", "taxonbar", "spoken wikipedia",
    "subject bar", "sister project links", "pp", "protection padlock", "lifetime", "toc limit",
})
_BLOCK_PREFIXES = ("infobox", "taxobox", "automatic taxobox", "speciesbox", "subspeciesbox",
                   "navbox", "sidebar", "short description", "use ", "engvar", "pp-", "s-",
                   "col-", "election box", "cleanup ", "expand ", "wikiproject", "redirect",
                   "about-", "other ", "for-", "distinguish", "see also", "main ", "toc ")
_BLOCK_SUFFIXES = ("-stub", " stub", "navbox", " sidebar", " infobox", " portal bar", " footer",
                   " header", " topics")


def classify(name: str) -> tuple[str, Renderer | None]:
    """(kind, renderer) of a template named `name` (lower-cased, as `template_name` returns)."""
    renderer = RENDERERS.get(name)
    if renderer is None and ":" in name:  # parser functions: {{formatnum:1,234}}, {{lc:X}}
        magic = name.split(":", 1)[0].strip()
        if magic in RENDERERS:
            return RENDER, RENDERERS[magic]
        if magic in ("defaultsort", "displaytitle", "#tag"):
            return BLOCK, None
        return UNKNOWN, None
    if renderer is not None:
        return RENDER, renderer
    for prefix, render in _RENDER_PREFIXES:
        if name.startswith(prefix):
            return RENDER, render
    if name in WORDLESS_NAMES or name.startswith(_WORDLESS_PREFIXES):
        return WORDLESS, None
    if (name in _BLOCK_NAMES or name.startswith(_BLOCK_PREFIXES)
            or name.endswith(_BLOCK_SUFFIXES)):
        return BLOCK, None
    return UNKNOWN, None
