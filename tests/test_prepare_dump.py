"""The streaming dump reader: fields, compression, and every kind of bad file."""

from __future__ import annotations

import bz2
import gzip
import resource

import pytest

from joule.errors import JouleError
from tests.wikidump import HEADER, articles, dump_xml, write_dump
from wiki.dump import read_dump


def test_reads_fields_of_each_page_plain_and_bz2(tmp_path):
    pages = articles(2) + [
        {"title": "Old name", "text": "#REDIRECT [[Town 1]]", "page_id": 3, "redirect": "Town 1"},
        {"title": "Wikipedia:About", "text": "Project page & more", "page_id": 4, "ns": 4},
    ]
    for name in ("d.xml", "d.xml.bz2"):
        got = list(read_dump(write_dump(tmp_path / name, pages)))
        assert [(p.id, p.title, p.ns, p.redirect) for p in got] == [
            ("1", "Town 1", 0, False), ("2", "Town 2", 0, False),
            ("3", "Old name", 0, True), ("4", "Wikipedia:About", 4, False)]
        # the page id, not the revision's or the contributor's; text unescaped once
        assert got[0].text.startswith("'''Town 1''' is a small [[town]]")
        assert got[3].text == "Project page & more"


def test_gzip_and_multistream_bz2(tmp_path):
    xml = dump_xml(articles(3)).encode()
    gz = tmp_path / "d.xml.gz"
    gz.write_bytes(gzip.compress(xml))
    assert [p.title for p in read_dump(gz)] == ["Town 1", "Town 2", "Town 3"]
    # multistream dumps are bz2 streams laid end to end
    multi = tmp_path / "multi.xml.bz2"
    half = len(xml) // 2
    multi.write_bytes(bz2.compress(xml[:half]) + bz2.compress(xml[half:]))
    assert len(list(read_dump(multi))) == 3


def test_namespace_from_title_prefix_when_export_has_no_ns(tmp_path):
    xml = dump_xml(articles(1) + [{"title": "Category:Towns", "text": "x", "page_id": 2}])
    path = tmp_path / "old.xml"
    path.write_text(xml.replace("<ns>0</ns>\n", ""))
    assert [p.ns for p in read_dump(path)] == [0, 14]


def test_entity_declarations_are_refused_billion_laughs(tmp_path):
    lol = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)]
    path = tmp_path / "lol.xml"
    path.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE mediawiki [{"".join(lol)}]>\n'
                    + HEADER + "<page><title>&lol9;</title></page></mediawiki>\n")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(JouleError, match=r"lol\.xml declares the XML entity 'lol'"):
        list(read_dump(path))
    # 10**9 "lol"s would be 3 GB; nothing was expanded (ru_maxrss is in KiB)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000


def test_even_a_harmless_entity_is_not_expanded(tmp_path):
    path = tmp_path / "ent.xml"
    path.write_text('<!DOCTYPE mediawiki [<!ENTITY town "Town 1">]>\n'
                    + dump_xml(articles(1)).replace("Town 1", "&town;"))
    with pytest.raises(JouleError, match="entity expansion is off"):
        list(read_dump(path))


def test_truncated_bz2_names_file_and_progress(tmp_path):
    full = write_dump(tmp_path / "full.xml.bz2", articles(1000))
    cut = tmp_path / "cut.xml.bz2"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    seen = []
    with pytest.raises(JouleError, match=r"cut\.xml\.bz2: .*after (\d+) pages read") as err:
        for page in read_dump(cut):
            seen.append(page)
    assert 0 < len(seen) < 1000
    assert f"after {len(seen)} pages read" in str(err.value)


def test_truncated_plain_xml(tmp_path):
    text = dump_xml(articles(5))
    path = tmp_path / "cut.xml"
    path.write_text(text[: text.index("<title>Town 4")])
    why = r"cut\.xml: malformed or truncated XML after 3 pages read.*line \d+"
    with pytest.raises(JouleError, match=why):
        list(read_dump(path))


def test_malformed_xml(tmp_path):
    path = tmp_path / "bad.xml"
    path.write_text(dump_xml(articles(3)).replace("Town 2</title>", "Town 2</titel>"))
    why = r"bad\.xml: malformed or truncated XML after 1 pages read.*: mismatched tag: line \d+"
    with pytest.raises(JouleError, match=why):
        list(read_dump(path))


@pytest.mark.parametrize("content, why", [
    (b"just some text, not XML\n", "not a MediaWiki XML dump"),
    (b"<html><body>hello</body></html>", "root element is <html>"),
    (b"", "not a MediaWiki XML dump"),
    (b"BZh91AY&SY garbage that is no bzip2 stream", "not a MediaWiki XML dump"),
])
def test_a_file_that_is_not_a_dump(tmp_path, content, why):
    path = tmp_path / "notadump.xml"
    path.write_bytes(content)
    with pytest.raises(JouleError, match=why) as err:
        list(read_dump(path))
    assert "notadump.xml" in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(JouleError, match="nope.xml does not exist"):
        list(read_dump(tmp_path / "nope.xml"))
