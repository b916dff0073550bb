"""Wikitext cleaning: what is removed, what is kept, and the section offsets."""

from __future__ import annotations

import pytest

from wiki.clean import MARKUP, clean_plain, clean_wikicode, parse
from wiki.filters import is_disambiguation

PAGE = """{{Use dmy dates|date=June 2013}}
{{Infobox person|name=Ada|birth_date={{birth date|1815|12|10}}}}
'''Ada Lovelace''' (born ''Augusta Ada Byron''; 10 December 1815) was an [[England|English]] \
[[mathematician]].<ref name="a">{{cite web|url=http://x.org|title=T}}</ref> She wrote \
''notes''.<ref>Plain ref</ref>
<!-- a hidden comment -->
[[File:Ada.jpg|thumb|A [[portrait]] of Ada]]
She lived in [[London]] &amp; walked {{convert|5|km|mi}} daily{{citation needed|date=May 2010}}.
__NOTOC__
== Early life ==
Her father was [[Lord Byron]].<ref name="a" />

{| class="wikitable"
|-
! Year !! Event
|-
| 1815 || Born
|}

=== Education ===
She studied with [http://example.com Mary Somerville] <span style="x">privately</span>.
* a list item
* another item

== Work ==
=== Notes on the [[Analytical Engine|engine]] ===
The notes describe an [[algorithm]]
for the engine.

== References ==
{{reflist}}
* Some ref

=== Sources ===
A source line.

[[Category:Mathematicians]]
[[fr:Ada Lovelace]]
"""


def test_a_full_page_becomes_plain_paragraphs_and_sections():
    page = clean_wikicode(parse(PAGE))
    assert page.text == (
        "Ada Lovelace (born Augusta Ada Byron; 10 December 1815) was an English mathematician. "
        "She wrote notes.\n\n"
        "She lived in London & walked 5 km daily.\n\n"
        "Her father was Lord Byron.\n\n"
        "She studied with Mary Somerville privately.\n\n"
        "The notes describe an algorithm for the engine.")
    assert [(s.title, s.level) for s in page.sections] == [
        ("", 1), ("Early life", 2), ("Education", 3), ("Work", 2), ("Notes on the engine", 3)]
    bodies = [page.text[s.start:s.end] for s in page.sections]
    assert bodies == [
        "Ada Lovelace (born Augusta Ada Byron; 10 December 1815) was an English mathematician. "
        "She wrote notes.\n\nShe lived in London & walked 5 km daily.",
        "Her father was Lord Byron.",
        "She studied with Mary Somerville privately.",
        "",  # "Work" has no text of its own: it points at its subsection
        "The notes describe an algorithm for the engine.",
    ]
    assert page.sections[3].start == page.sections[4].start
    assert page.words == len(page.text.split())
    assert page.markup_paragraphs_dropped == 0


def test_lists_are_dropped_unless_asked_for():
    kept = clean_wikicode(parse(PAGE), keep_lists=True)
    assert "privately.\n\na list item\n\nanother item\n\nThe notes" in kept.text
    assert "list item" not in clean_wikicode(parse(PAGE)).text


@pytest.mark.parametrize("wikitext, expected", [
    ("An [[apple]]s tree.", "An apples tree."),                       # link trail
    ("See [[:Category:Fruit]] too.", "See Category:Fruit too."),       # visible category link
    ("A [[Image:x.png|left|caption [[y]]]] B.", "A B."),                # image with nested link
    ("[[de:Apfel]]An apple.", "An apple."),                            # interlanguage link
    ("A [http://x.org] and [http://y.org Y] and http://z.org.", "A and Y and."),
    ("In ''Iliad'''s words.", "In Iliad's words."),                   # possessive after italics
    ("Rock '''''and''''' roll.", "Rock and roll."),
    ("x<sup>2</sup> and H<sub>2</sub>O", "x2 and H2O"),
    ("A <math>x^2</math> B <gallery>a.jpg|c</gallery> C.", "A x^2 B C."),  # plain formula
    ("Paris ({{IPA-fr|paʁi}}; French) is big.", "Paris (French) is big."),  # a pronunciation
    ("Paris ({{IPAc-en|ˈ|p|æ|r|ɪ|s}}) is big.", "Paris is big."),
    ("Vowels such as {{IPA|[a]}} and {{IPA|[e]}}.", "Vowels such as [a] and [e]."),  # the subject
    ("Albert ({{IPAc-en|a}}<ref>x</ref>; {{IPA-de|b}}; 14 March 1879) was.", "Albert (14 March "
     "1879) was."),
    ("Albania ({{IPA-sq|a}}, {{IPA-sq|b}}) is. Shqipëria (Republika{{efn|x}}; {{IPA-sq|c}}) is.",
     "Albania is. Shqipëria (Republika) is."),
    ("{{lang|fr|Bonjour}} and {{nowrap|5 km}} and {{convert|3|to|4|m}}.",
     "Bonjour and 5 km and 3 to 4 m."),
    ("Text<ref>''unbalanced</ref> more.", "Text more."),
    ("A&nbsp;B &ndash; [[OS&nbsp;X]]", "A B – OS X"),
    ("Line one\nline two.\n\nNew paragraph.", "Line one line two.\n\nNew paragraph."),
    ("{{{param|default}}} kept.", "kept."),
])
def test_cleaning_cases(wikitext, expected):
    assert clean_wikicode(parse(wikitext)).text == expected


def test_a_ref_the_parser_cannot_pair_is_cut_to_its_close():
    # the unbalanced italics inside make mwparserfromhell leave this <ref> as text
    text = ("Before.<ref>''Comm'' in Aristotle'', ''De Anima'', III</ref> After. "
            "[[Plato]] was a <ref name=x/>teacher.")
    page = clean_wikicode(parse(text))
    assert page.text == "Before. After. Plato was a teacher."


def test_an_unpaired_ref_closing_at_another_depth_is_cut_exactly():
    # the ref's inner '' opens an italic run that ends after </ref>: the close sits one level
    # deeper than the opening
    text = ("She said ''care''. Others agree.<ref>Foucault, ''The History. New York, "
            "1978.</ref> Recently, Anton has argued, ''in print'', that.")
    page = clean_wikicode(parse(text))
    assert page.text == "She said care. Others agree. Recently, Anton has argued, in print, that."


def test_surviving_markup_drops_the_paragraph_and_counts_it():
    # unclosed template and link: the parser leaves them as text
    text = ("Good paragraph here.\n\nBroken {{cite web|title=never closed. More [[words.\n\n"
            "Another good one.")
    page = clean_wikicode(parse(text))
    assert page.text == "Good paragraph here.\n\nAnother good one."
    assert page.markup_paragraphs_dropped == 1


def test_end_matter_sections_go_with_their_subsections():
    text = ("Lead text.\n== See also ==\n* [[X]]\n=== More ===\nStill end matter.\n"
            "== Legacy ==\nReal text.")
    page = clean_wikicode(parse(text))
    assert page.text == "Lead text.\n\nReal text."
    assert [s.title for s in page.sections] == ["", "Legacy"]


def test_page_starting_with_a_heading_has_an_empty_lead():
    page = clean_wikicode(parse("== Intro ==\nWords here."))
    assert [(s.title, s.start, s.end) for s in page.sections] == [("", 0, 0), ("Intro", 0, 11)]


def test_no_markup_left_in_any_case():
    page = clean_wikicode(parse(PAGE), keep_lists=True)
    for mark in MARKUP:
        assert mark not in page.text


def test_plain_text_is_normalised_into_paragraphs():
    page = clean_plain("First  line\nsame paragraph.\n\n\nSecond.\n")
    assert page.text == "First line same paragraph.\n\nSecond."
    assert [(s.title, s.level, s.start, s.end) for s in page.sections] == [("", 1, 0, 35)]


@pytest.mark.parametrize("wikitext, dab", [
    ("'''Mercury''' may refer to:\n* [[Mercury (planet)]]\n{{disambiguation}}", True),
    ("'''Smith''' may refer to:\n{{Hndis|Smith}}", True),
    ("Some list.\n__DISAMBIG__", True),
    ("'''Mercury''' is a planet.{{Other uses|Mercury (disambiguation)}}", False),
])
def test_disambiguation_detection(wikitext, dab):
    assert is_disambiguation(parse(wikitext)) is dab


def test_stray_formatting_tags_are_removed_but_not_comparisons():
    text = "Quote ends here. </blockquote> Then x < y and <span>kept</span> words."
    assert clean_wikicode(parse(text)).text == "Quote ends here. Then x < y and kept words."


def test_the_lead_in_of_a_dropped_list_goes_with_it():
    text = ("Real prose here.\n\nAndorra consists of seven parishes:\n* Canillo\n* Encamp\n\n"
            "'''[[Delaware]]'''\n* [[Thomas McKean]]\n\nShort one.\n* item\n\nEnd.")
    assert clean_wikicode(parse(text)).text == "Real prose here.\n\nShort one.\n\nEnd."
    kept = clean_wikicode(parse(text), keep_lists=True).text
    assert "Andorra consists of seven parishes:\n\nCanillo" in kept and "Delaware" in kept
