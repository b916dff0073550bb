"""Issue 22, kinds 1-4: word-carrying templates, link prefixes, disambiguation pages, scripts
without spaces. Each kind through the cleaner and through `prepare` (jsonl and a dump)."""

from __future__ import annotations

import json

import pytest

from joule.config import compose
from joule.io import read_table
from pipeline.prepare import main
from tests.wikidump import articles, header, write_dump
from wiki.clean import SiteNames, clean_wikicode, parse
from wiki.filters import disambiguation_reason, is_disambiguation_template
from wiki.holes import find_holes
from wiki.templates import BLOCK, RENDER, UNKNOWN, WORDLESS, classify
from wiki.words import count_words


def clean(wikitext: str, **kw):
    return clean_wikicode(parse(wikitext), **kw)


# --- the hole checker can fail ---------------------------------------------------------------

@pytest.mark.parametrize("holey", [
    "The short film was directed by in 1999 and shown at two festivals.",   # issue 22
    "The measured lifetime of the particle is according to the latest trap experiments.",
    "It has an area of , and a population of 3,000.",
    "It has an area of and a population of 3,000.",
    "She walked  daily to the market.",
    "The river is long, , and wide.",
    "He was born in the .",
    "The town lies between and the sea.",
    "He played for the from 1990 to 1995.",
])
def test_hole_checker_flags_the_shapes_a_cut_template_leaves(holey):
    assert find_holes(holey)


def test_hole_checker_passes_ordinary_prose():
    text = ("The short film was directed by Maria Lopez in 1999. It has an area of 5 km2, and "
            "a population of 3,000. The town lies between the hills and the sea.")
    assert find_holes(text) == []


# --- kind 1: templates that carry words -------------------------------------------------------

# (wikitext sentence, its rendered text). The three inputs first.
RENDERED = [
    ("The short film was directed by {{sortname|Maria|Lopez}} in 1999 and shown at two "
     "festivals.",
     "The short film was directed by Maria Lopez in 1999 and shown at two festivals."),
    ("The measured lifetime of the particle is {{val|878.4|0.5|u=[[second|s]]}} according to the "
     "latest trap experiments.", "The measured lifetime of the particle is 878.4 ± 0.5 s "
     "according to the latest trap experiments."),
    ("Their leader wrote:\n{{quote|We ask only for a fair wage and a safe quay.}}",
     "Their leader wrote: We ask only for a fair wage and a safe quay."),
    ("Their leader wrote:\n<blockquote>We ask only for a fair wage and a safe quay.</blockquote>",
     "Their leader wrote: We ask only for a fair wage and a safe quay."),
    ("The tower, {{nihongo|Tokyo Tower|東京タワー|Tōkyō tawā}}, opened in 1958.",
     "The tower, Tokyo Tower, opened in 1958."),
    ("The motto is {{lang|la|Fiat lux}} and dates from 1868.",
     "The motto is Fiat lux and dates from 1868."),
    ("The motto is {{lang-la|Fiat lux}} and dates from 1868.",
     "The motto is Fiat lux and dates from 1868."),
    ("The novel was translated as {{ill|The Quiet Harbour|de|Der stille Hafen}} in 1955.",
     "The novel was translated as The Quiet Harbour in 1955."),
    ("The city is known as {{transl|ar|al-Qahira}} to its residents.",
     "The city is known as al-Qahira to its residents."),
    ("The bridge is {{convert|120|m|ft}} long and {{cvt|8|m}} wide.",
     "The bridge is 120 m long and 8 m wide."),
    ("The lake is {{convert|3|to|5|km|mi}} across.", "The lake is 3 to 5 km across."),
    ("About {{frac|3|4}} of the land is forest.", "About 3/4 of the land is forest."),
    ("The chapel was built {{circa|1420}} by the monks.",
     "The chapel was built c. 1420 by the monks."),
    ("The poet ({{floruit|1150}}) wrote in Occitan.", "The poet (fl. 1150) wrote in Occitan."),
    ("Ada was born on {{birth date|1815|12|10}} in London.",
     "Ada was born on 10 December 1815 in London."),
    ("He died on {{death date and age|1979|3|4|1901|6|2}} in Leiden.",
     "He died on 4 March 1979 in Leiden."),
    ("The line opened on {{start date|1850|6}} after long delays.",
     "The line opened on June 1850 after long delays."),
    ("{{As of|2020}}, the village had 312 inhabitants.",
     "As of 2020, the village had 312 inhabitants."),
    ("The ship was named {{nowrap|HMS Vigilant}} in 1902.",
     "The ship was named HMS Vigilant in 1902."),
    ("The {{abbr|UN|United Nations}} was founded in 1945.", "The UN was founded in 1945."),
    ("It is {{small|mostly}} known for cheese.", "It is mostly known for cheese."),
    ("The formula <math>x + y = 2</math> has many solutions.",
     "The formula x + y = 2 has many solutions."),
    ("Water is H<sub>2</sub>O and <small>rarely</small> <poem>sung about</poem>.",
     "Water is H2O and rarely sung about."),
    ("The price rose to {{US$|400}} in 1910.", "The price rose to US$400 in 1910."),
    ("The {{lc:RIVER}} floods near the town{{'}}s mill.", "The river floods near the town's mill."),
]


@pytest.mark.parametrize("wikitext, expected", RENDERED)
def test_word_carrying_templates_are_rendered_to_their_words(wikitext, expected):
    page = clean(wikitext)
    assert page.text == expected
    assert not page.unrendered


# Sentences that hold a template nothing can render: each must go whole.
UNRENDERABLE = [
    "The club plays at {{Stadium name|2024}} every Sunday.",
    "The particle decays in <math>\\tau = \\frac{1}{\\Gamma}</math> seconds.",
    "The river flows past {{coord|52|N|4|E}} into the sea.",
    "Its price was {{inflation|US|100|1900}} in today's money.",
    "He was {{age|1950|1|1}} years old when he retired.",
    "{{Unknown start}} is the first word here.",
    "The ion <chem>{SO4}^{2-}</chem> is common in sea water.",
    "The birth date {{birth date|circa 1800}} is uncertain.",  # a template we cannot read
]


@pytest.mark.parametrize("sentence", UNRENDERABLE)
def test_a_sentence_with_an_unrenderable_template_goes_whole(sentence):
    page = clean(f"The town is old. {sentence} It has a market.")
    assert page.text == "The town is old. It has a market."
    assert sum(page.unrendered.values()) == 1


def test_unrendered_sentences_are_counted_by_template_name():
    page = clean("One {{Foo bar|x}} here. Two {{foo_bar}} there. Angle <math>\\alpha</math> "
                 "is small. Fine here.")
    assert page.text == "Fine here."
    assert page.unrendered == {"foo bar": 2, "<math>": 1}


def test_templates_between_paragraphs_or_after_a_sentence_drop_nothing():
    page = clean("{{Infobox town\n|name=X\n|area=5}}\n{{Unknown banner}}\n"
                 "'''X''' is a town.{{Unknown footnote|p=3}} It has a market.{{sfn|A|2000|p=3}}\n\n"
                 "{{Some navbox}}\n\n{{cn}}The end is near{{citation needed|date=May 2020}}.")
    assert page.text == "X is a town. It has a market.\n\nThe end is near."
    assert not page.unrendered


def test_a_multi_line_template_inside_a_sentence_takes_the_sentence():
    page = clean("Fine here. He lived in {{Place\n|Leiden}} for years. Also fine.")
    assert page.text == "Fine here. Also fine." and page.unrendered == {"place": 1}


def test_a_formula_standing_on_its_own_line_takes_its_sentence():
    page = clean("Other words. The albedo is:\n:<math>A = \\frac{a}{b}</math>,\nwhere a is "
                 "light.\n\nNext paragraph.")
    assert page.text == "Other words.\n\nNext paragraph."


def test_a_page_of_template_sentences_has_no_holes():
    wikitext = "\n\n".join([w for w, _ in RENDERED] + UNRENDERABLE)
    page = clean(wikitext)
    assert find_holes(page.text) == []
    assert sum(page.unrendered.values()) == len(UNRENDERABLE)
    for _, expected in RENDERED:  # every renderable sentence survives
        assert expected in page.text


@pytest.mark.parametrize("name, kind", [
    ("sortname", RENDER), ("lang-fr", RENDER), ("val", RENDER), ("birth date and age", RENDER),
    ("cite web", WORDLESS), ("sfn", WORDLESS), ("citation needed", WORDLESS), ("ipac-en", WORDLESS),
    ("infobox settlement", BLOCK), ("use dmy dates", BLOCK), ("france-geo-stub", BLOCK),
    ("about", BLOCK), ("some unknown", UNKNOWN), ("coord", UNKNOWN), ("formatnum:1234", RENDER),
])
def test_template_classes(name, kind):
    assert classify(name)[0] == kind


# --- kind 2: link prefixes from real lists ---------------------------------------------------

@pytest.mark.parametrize("wikitext, expected", [
    ("He edited [[Eve: Last Days]] in 1973 and later worked in television.",   # issue 22
     "He edited Eve: Last Days in 1973 and later worked in television."),
    ("She starred in [[Star Trek: Voyager|Voyager]] and [[Mission: Impossible]].",
     "She starred in Voyager and Mission: Impossible."),
    ("He wrote [[Re: Joyce]] and [[Ask: A Memoir]].", "He wrote Re: Joyce and Ask: A Memoir."),
    ("Paris is big.[[fr:Paris]][[zh-yue:巴黎]][[simple:Paris]][[be-tarask:Парыж]]",
     "Paris is big."),
    ("See [[:fr:Paris|Paris]] in French.", "See Paris in French."),
    ("A [[wikt:quay|quay]] and a [[wiktionary:jetty]].", "A quay and a jetty."),
    ("Nice.[[Category:Towns]][[category:Ports]]", "Nice."),
    ("A [[File:x.png|thumb|cap]] B [[Image:y.jpg]] C [[media:z.ogg]].", "A B C."),
    ("See [[:Category:Towns]] too.", "See Category:Towns too."),
    ("Read [[Wikipedia:Manual of Style|the manual]].", "Read the manual."),
])
def test_link_prefixes_come_from_real_lists(wikitext, expected):
    assert clean(wikitext).text == expected


def test_a_dumps_own_namespace_names_are_used(tmp_path):
    german = header({6: "Datei", 14: "Kategorie", 4: "Wikipedia"}, lang="de")
    text = ("'''Kessel''' ist ein Dorf am [[Rhein]] mit einer alten Kirche und einem Markt, "
            "der jeden Sonntag geöffnet ist.[[Datei:K.jpg|mini|Die Kirche]] Der Film "
            "[[Eve: Last Days]] wurde hier gedreht.[[Kategorie:Dorf]][[en:Kessel]]")
    dump = write_dump(tmp_path / "de.xml", [{"title": "Kessel", "text": text, "page_id": 1}],
                      german)
    main(compose([f"data_dir={tmp_path}/data", f"metrics_dir={tmp_path}/metrics",
                  "corpus=wiki_dump", f"corpus.path={dump}", "corpus.min_words=5"]))
    [row] = read_table(tmp_path / "data" / "pages").to_pylist()
    assert row["text"] == ("Kessel ist ein Dorf am Rhein mit einer alten Kirche und einem Markt, "
                           "der jeden Sonntag geöffnet ist. Der Film Eve: Last Days wurde hier "
                           "gedreht.")
    site = SiteNames({"Datei": 6, "Kategorie": 14})
    assert site.kind("kategorie") == "category" and site.kind("Eve") is None
    assert site.kind("image") == "media"  # the canonical names work on every wiki


# --- kind 3: disambiguation pages ------------------------------------------------------------

KESSEL = ("'''Kessel''' may refer to one of several villages:\n* [[Kessel, Limburg]]\n"
          "* [[Kessel, Germany]]\n")


@pytest.mark.parametrize("marker, reason", [
    ("{{Place name disambiguation}}", "template"),  # issue 22
    ("{{place_name_disambiguation}}", "template"), ("{{Disambiguation|geo|surname}}", "template"),
    ("{{DAB}}", "template"), ("{{disambig}}", "template"), ("{{Disamb}}", "template"),
    ("{{geodis}}", "template"), ("{{hndis|Kessel}}", "template"), ("{{numberdis}}", "template"),
    ("{{Human name disambiguation}}", "template"), ("{{Airport disambiguation}}", "template"),
    ("{{Template:Dab}}", "template"), ("{{ disambiguation cleanup |date=May 2020}}", "template"),
    ("{{Letter-number combination disambiguation}}", "template"),
    ("[[Category:Place name disambiguation pages]]", "category"),
    ("[[Category:Disambiguation pages]]", "category"),
    ("[[category:Disambiguation_pages_with_short_descriptions]]", "category"),
    ("__DISAMBIG__", "switch"),
])
def test_the_disambiguation_family_is_recognised(marker, reason):
    assert disambiguation_reason(parse(KESSEL + marker)) == reason


@pytest.mark.parametrize("marker", [
    "{{set index article}}", "{{surname}}", "{{given name}}", "{{ship index}}",
    "{{Other uses|Kessel (disambiguation)}}", "{{About|the village|other uses}}",
    "[[Category:Word-sense disambiguation]]", "See [[Kessel (disambiguation)]].", "{{Paradis}}",
])
def test_articles_and_set_indexes_are_not_disambiguation(marker):
    assert disambiguation_reason(parse(KESSEL + marker)) is None


def test_is_disambiguation_template_normalised_names():
    assert is_disambiguation_template("school disambiguation")
    assert not is_disambiguation_template("infobox settlement")


def test_prepare_counts_disambiguation_by_reason(tmp_path):
    pages = articles(2) + [
        {"title": "Kessel", "text": KESSEL + "{{Place name disambiguation}}", "page_id": 20},
        {"title": "Smith", "text": KESSEL + "[[Category:Disambiguation pages]]", "page_id": 21},
        {"title": "Kessel (disambiguation)", "text": KESSEL, "page_id": 22},
    ]
    dump = write_dump(tmp_path / "d.xml", pages)
    metrics = main(compose([f"data_dir={tmp_path}/data", f"metrics_dir={tmp_path}/metrics",
                            "corpus=wiki_dump", f"corpus.path={dump}", "corpus.min_words=10"]))
    assert metrics["skipped"]["disambiguation"] == 3 and metrics["pages_kept"] == 2
    assert metrics["disambiguation_by"] == {"title": 1, "template": 1, "category": 1, "switch": 0}


# --- kind 4: scripts without spaces -----------------------------------------------------------

ZH = ("北京是中华人民共和国的首都，也是全国的政治、文化和国际交往中心。北京位于华北平原的北部，"
      "历史悠久，有三千多年的建城史和八百多年的建都史。")  # 63 Han characters + punctuation
JA = ("東京タワーは、東京都港区芝公園にある総合電波塔である。一九五八年に完成し、"
      "高さは三百三十三メートルである。")
TH = "กรุงเทพมหานครเป็นเมืองหลวงและนครที่มีประชากรมากที่สุดของประเทศไทย"


def test_words_of_scripts_without_spaces_are_estimated():
    assert count_words("The quick brown fox, jumps.") == 5
    han = sum(1 for c in ZH if "\u4e00" <= c <= "\u9fff")
    assert count_words(ZH) == round(han / 1.5)
    assert 25 <= count_words(JA) <= 45
    assert count_words(TH) == round(len(TH) / 4)
    assert count_words("東京 is big") == 3  # 東京: 2 characters / 1.5 = 1.33, then 2 words


def test_prepare_keeps_long_unspaced_pages_and_counts_short_ones(tmp_path):
    path = tmp_path / "zh.jsonl"
    rows = [{"title": "北京", "text": ZH * 2, "id": "bj"},
            {"title": "東京タワー", "text": JA * 2, "id": "tt"},
            {"title": "短", "text": "北京是首都。", "id": "short"},
            {"title": "Short", "text": "Too short here.", "id": "en"}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    metrics = main(compose([f"data_dir={tmp_path}/data", f"metrics_dir={tmp_path}/metrics",
                            "corpus=jsonl", f"corpus.path={path}", "corpus.markup=wikitext",
                            "corpus.min_words=50"]))
    assert [r["id"] for r in read_table(tmp_path / "data" / "pages").to_pylist()] == ["bj", "tt"]
    assert metrics["skipped"]["too_short"] == 2
    assert metrics["too_short_by_script"] == {"spaced": 1, "unspaced": 1}
    assert metrics["pages_kept_unspaced"] == 2
    assert "estimate" in metrics["words_rule"]


def test_prepare_counts_unrendered_sentences(tmp_path):
    path = tmp_path / "p.jsonl"
    body = " ".join(w for w, _ in RENDERED[:5]) + " " + " ".join(UNRENDERABLE[:3])
    path.write_text(json.dumps({"title": "T", "text": body}) + "\n")
    metrics = main(compose([f"data_dir={tmp_path}/data", f"metrics_dir={tmp_path}/metrics",
                            "corpus=jsonl", f"corpus.path={path}", "corpus.markup=wikitext",
                            "corpus.min_words=10"]))
    assert metrics["sentences_dropped_unrendered_template"] == 3
    assert metrics["unrendered_templates_top"] == {"stadium name": 1, "<math>": 1, "coord": 1}
    [row] = read_table(tmp_path / "data" / "pages").to_pylist()
    assert find_holes(row["text"]) == [] and "Maria Lopez" in row["text"]
