"""Multistream dumps split into independent byte ranges that read the same pages as one stream."""

from __future__ import annotations

import bz2

import pytest

from joule.errors import JouleError
from tests.wikidump import HEADER, articles, page_xml, write_dump
from wiki.dump import dump_ranges, multistream_index, read_dump, stream_offsets


def write_multistream(tmp_path, pages: list[dict], per_stream: int = 3):
    """A dump as Wikipedia writes one: a header stream, streams of `per_stream` pages, a footer
    stream, and the index of `offset:page_id:title` lines (offset of the page's stream)."""
    path = tmp_path / "tinywiki-20261130-pages-articles-multistream.xml.bz2"
    data, index = bz2.compress(HEADER.encode()), []
    for i in range(0, len(pages), per_stream):
        group = pages[i:i + per_stream]
        index += [f"{len(data)}:{p['page_id']}:{p['title']}\n" for p in group]
        data += bz2.compress("".join(page_xml(**p) for p in group).encode())
    data += bz2.compress(b"</mediawiki>\n")
    path.write_bytes(data)
    idx = tmp_path / "tinywiki-20261130-pages-articles-multistream-index.txt.bz2"
    idx.write_bytes(bz2.compress("".join(index).encode()))
    return path


def ids(pages):
    return [p.id for p in pages]


@pytest.mark.parametrize("streams_per_range", [1, 2, 5, 100])
def test_ranges_read_the_same_pages_as_the_whole_file(tmp_path, streams_per_range):
    pages = articles(14) + [{"title": "Category:Towns", "text": "x", "page_id": 99, "ns": 14},
                            {"title": "Burgh", "text": "#REDIRECT [[Town 1]]", "page_id": 100,
                             "redirect": "Town 1"}]
    path = write_multistream(tmp_path, pages)
    whole = list(read_dump(path))   # a plain bz2 reader sees one document (concatenated streams)
    assert len(whole) == 16
    ranges = dump_ranges(path, streams_per_range)
    assert len(ranges) == -(-6 // streams_per_range)   # 6 page streams
    assert ranges[0].start == ranges[0].header_end > 0 and ranges[-1].end == path.stat().st_size
    assert all(a.end == b.start for a, b in zip(ranges, ranges[1:], strict=False))
    parts = [list(r.pages()) for r in ranges]
    assert [p for part in parts for p in part] == whole   # same pages, fields and order
    # the namespace and redirect flags come through in a range that lacks the dump's header
    assert whole[-2].ns == 14 and whole[-1].redirect


def test_plain_bz2_is_one_range_that_streams(tmp_path):
    path = write_dump(tmp_path / "plain.xml.bz2", articles(5))
    assert multistream_index(path) is None
    (only,) = dump_ranges(path, 2)
    assert ids(only.pages()) == ids(read_dump(path)) == [str(i) for i in range(1, 6)]


def test_index_lines_and_offsets(tmp_path):
    path = write_multistream(tmp_path, articles(7), per_stream=3)
    offsets = stream_offsets(multistream_index(path))
    assert len(offsets) == 3 and offsets == sorted(offsets)
    bad = multistream_index(path)
    bad.write_bytes(bz2.compress(b"12:1:Town 1\nnot an index line\n"))
    with pytest.raises(JouleError, match="line 2"):
        stream_offsets(bad)
    bad.write_bytes(bz2.compress(b"999999:1:Town 1\n"))
    with pytest.raises(JouleError, match="do not fit"):
        dump_ranges(path, 1)


def test_a_truncated_range_is_one_clear_error(tmp_path):
    path = write_multistream(tmp_path, articles(9))
    ranges = dump_ranges(path, 1)
    path.write_bytes(path.read_bytes()[:ranges[1].start + 20])
    assert len(list(ranges[0].pages())) == 3
    with pytest.raises(JouleError, match="ends early"):
        list(ranges[1].pages())
