"""Streaming reader of MediaWiki XML exports (`pages-articles.xml`, plain, .bz2 or .gz).

Memory stays flat with dump size: the file is fed to expat in fixed-size chunks and only the
fields of the page being read are held (title, namespace, id, redirect flag, wikitext); a page is
handed on as soon as its `</page>` closes. We drive `pyexpat` directly rather than
`ElementTree.iterparse` because it lets us refuse DTD entity declarations outright: iterparse's
C parser expands internal entities (expat >= 2.4 only caps the amplification factor), whereas a
real dump never declares any, so a file that does is refused before anything is expanded
("billion laughs" safe by construction, not by a limit).

A multistream dump (`-multistream.xml.bz2`, concatenated bz2 streams of ~100 pages each, with
its `-multistream-index.txt.bz2` of `offset:page_id:title` lines) also splits into independent
byte ranges (`dump_ranges`) that separate workers read in parallel; the index and the bz2 stream
boundaries are Wikipedia's own format, which no library we use reads, hence this code.
"""

from __future__ import annotations

import bz2
import gzip
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from joule.errors import JouleError

CHUNK_BYTES = 1 << 16  # bytes of (decompressed) XML fed to expat at a time


@dataclass(frozen=True)
class RawPage:
    """One page as the source gives it, before cleaning.

    `markup` is "wikitext" (dump, jsonl) or "plain" (already plain text, e.g. HF wikipedia).
    `namespaces`: the wiki's namespace names -> numbers, from the dump's `<siteinfo>` header
    (one mapping shared by every page of the dump); None where the source has no header.
    """

    id: str
    title: str
    ns: int
    redirect: bool
    text: str
    markup: str = "wikitext"
    namespaces: Mapping[str, int] | None = field(default=None, compare=False, repr=False)


class _EntityDeclared(Exception):
    """Raised from inside expat when the input declares an XML entity."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


@dataclass
class Progress:
    """How far a read got: pages fully read and the title of the last one (for error messages)."""

    pages: int = 0
    last_title: str | None = None

    def where(self) -> str:
        last = f", last {self.last_title!r}" if self.last_title else ""
        return f"after {self.pages} pages read{last}"


def open_dump(path: Path):
    """Open `path` for binary reading, decompressing bz2 or gzip by their magic bytes."""
    with open(path, "rb") as f:
        magic = f.read(3)
    if magic == b"BZh":
        return bz2.open(path, "rb")  # multistream dumps (concatenated streams) included
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(path, "rb")
    return open(path, "rb")


class _PageBuilder:
    """expat handlers that assemble `RawPage`s from element events.

    Only text under the paths we need is kept; everything else (contributors, comments,
    siteinfo apart from namespace names) is ignored as it streams past. The `<namespaces>`
    header is read before the first page, so every page carries the full mapping.
    """

    _FIELDS = {
        ("mediawiki", "page", "title"): "title",
        ("mediawiki", "page", "ns"): "ns",
        ("mediawiki", "page", "id"): "id",
        ("mediawiki", "page", "revision", "text"): "text",
        ("mediawiki", "siteinfo", "namespaces", "namespace"): "namespace",
    }

    def __init__(self, progress: Progress):
        self.progress = progress
        self.stack: list[str] = []
        self.root_seen = False
        self.ready: list[RawPage] = []
        self.namespaces: dict[str, int] = {}  # prefix -> key, for exports without <ns>
        self._page: dict | None = None
        self._field: str | None = None
        self._buf: list[str] = []
        self._ns_key: int | None = None

    def start(self, name: str, attrs: dict) -> None:
        if not self.stack:
            if name != "mediawiki":
                raise JouleError(f"root element is <{name}>, not <mediawiki>")
            self.root_seen = True
        self.stack.append(name)
        path = tuple(self.stack)
        if path == ("mediawiki", "page"):
            self._page = {"redirect": False, "text": ""}
        elif path == ("mediawiki", "page", "redirect"):
            self._page["redirect"] = True
        field = self._FIELDS.get(path)
        if field:
            self._field, self._buf = field, []
            if field == "namespace":
                self._ns_key = int(attrs.get("key", 0))

    def chars(self, data: str) -> None:
        if self._field:
            self._buf.append(data)

    def end(self, name: str) -> None:
        path = tuple(self.stack)
        self.stack.pop()
        if self._field and path in self._FIELDS:
            value = "".join(self._buf)
            if self._field == "namespace":
                if value:
                    self.namespaces[value] = self._ns_key
            elif self._page is not None:
                # A history dump has several revisions: the last one read wins (the newest).
                self._page[self._field] = value
            self._field, self._buf = None, []
        if path == ("mediawiki", "page"):
            self._finish_page()

    def _finish_page(self) -> None:
        page, self._page = self._page, None
        title = page.get("title", "")
        if "ns" in page:
            ns = int(page["ns"])
        else:  # export format < 0.6: the namespace is the title's prefix
            prefix, sep, _ = title.partition(":")
            ns = self.namespaces.get(prefix, 0) if sep else 0
        self.progress.pages += 1
        self.progress.last_title = title
        self.ready.append(RawPage(id=page.get("id", ""), title=title, ns=ns,
                                  redirect=page["redirect"], text=page["text"],
                                  namespaces=self.namespaces or None))


def _refuse_entity(name, *_args) -> None:
    raise _EntityDeclared(name)


def read_dump(path: str | Path, progress: Progress | None = None) -> Iterator[RawPage]:
    """Yield the pages of a MediaWiki XML export in file order, streaming.

    Any problem with the file (not a dump, malformed or truncated XML, a truncated or corrupt
    compressed stream, an entity declaration) raises a JouleError naming the file and how many
    pages had been read.
    """
    path = Path(path)
    if not path.is_file():
        raise JouleError(f"dump file {path} does not exist")

    def chunks():
        with open_dump(path) as f:
            while chunk := f.read(CHUNK_BYTES):
                yield chunk

    yield from _parse(path, chunks(), progress, close_root=False)


def multistream_index(path: str | Path) -> Path | None:
    """The index beside a multistream dump (`X-multistream.xml.bz2` ->
    `X-multistream-index.txt.bz2`), or None when `path` is not one or the index is missing."""
    path = Path(path)
    if not path.name.endswith("-multistream.xml.bz2"):
        return None
    index = path.with_name(path.name[:-len(".xml.bz2")] + "-index.txt.bz2")
    return index if index.is_file() else None


def stream_offsets(index: str | Path) -> list[int]:
    """Byte offsets of the page streams of a multistream dump, ascending and distinct, from its
    index (`offset:page_id:title` lines, one per page; a stream holds ~100 pages)."""
    offsets: set[int] = set()
    try:
        with bz2.open(index, "rt", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                head, sep, _ = line.partition(":")
                if not sep or not head.isdigit():
                    raise JouleError(f"{index} line {lineno}: not an `offset:page_id:title` "
                                     f"line: {line[:80]!r}")
                offsets.add(int(head))
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise JouleError(f"{index}: unreadable multistream index: {exc}") from None
    if not offsets:
        raise JouleError(f"{index}: empty multistream index")
    return sorted(offsets)


@dataclass(frozen=True)
class DumpRange:
    """Bytes [start, end) of a multistream dump: whole bz2 streams of whole <page> elements,
    readable on their own given the dump's first stream (bytes [0, header_end): the
    <mediawiki> opening tag and <siteinfo>, for the namespace names)."""

    path: str
    start: int
    end: int
    header_end: int

    def pages(self, progress: Progress | None = None) -> Iterator[RawPage]:
        """The range's pages in file order; errors as `read_dump`'s."""
        return read_dump_range(self, progress)


def dump_ranges(path: str | Path, streams_per_range: int) -> list[DumpRange]:
    """Independent byte ranges of a multistream dump (`streams_per_range` bz2 streams each, the
    last one up to the end of the file), or one range covering a plain dump (it streams)."""
    if streams_per_range < 1:
        raise JouleError(f"streams_per_range must be >= 1, not {streams_per_range}")
    path = Path(path)
    size = path.stat().st_size
    index = multistream_index(path)
    if index is None:
        return [DumpRange(str(path), 0, size, 0)]
    offsets = stream_offsets(index)
    if offsets[0] <= 0 or offsets[-1] >= size:
        raise JouleError(f"{index}: stream offsets {offsets[0]}..{offsets[-1]} do not fit "
                         f"{path} ({size} bytes): not this dump's index?")
    starts = offsets[::streams_per_range]
    ends = starts[1:] + [size]
    return [DumpRange(str(path), s, e, offsets[0]) for s, e in zip(starts, ends, strict=True)]


def _decompress(f, start: int, end: int) -> Iterator[bytes]:
    """The decompressed bytes of the (concatenated) bz2 streams in bytes [start, end) of `f`."""
    f.seek(start)
    left = end - start
    dec = bz2.BZ2Decompressor()
    while left > 0:
        data = f.read(min(CHUNK_BYTES, left))
        if not data:
            raise EOFError(f"file ends at byte {end - left}, before byte {end}")
        left -= len(data)
        while data:
            if dec.eof:  # the previous stream ended: the next one starts in `data`
                dec = bz2.BZ2Decompressor()
            if out := dec.decompress(data):
                yield out
            data = dec.unused_data if dec.eof else b""
    if not dec.eof:
        raise EOFError(f"bz2 stream cut at byte {end}")


def read_dump_range(part: DumpRange, progress: Progress | None = None) -> Iterator[RawPage]:
    """Yield the pages of one `DumpRange`, streaming (the whole dump for a plain one)."""
    path = Path(part.path)
    if part.header_end == 0:
        yield from read_dump(path, progress)
        return
    if not path.is_file():
        raise JouleError(f"dump file {path} does not exist")

    def chunks():
        with open(path, "rb") as f:
            yield from _decompress(f, 0, part.header_end)
            yield from _decompress(f, part.start, part.end)

    yield from _parse(path, chunks(), progress, close_root=True)


def _parse(path: Path, chunks: Iterator[bytes], progress: Progress | None,
           close_root: bool) -> Iterator[RawPage]:
    """Pages of the XML in `chunks`; `close_root`: close <mediawiki> if the bytes do not (a
    multistream range before the dump's last stream)."""
    progress = progress if progress is not None else Progress()
    builder = _PageBuilder(progress)
    parser = expat.ParserCreate()  # no namespace processing: tags keep their plain names
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.EntityDeclHandler = _refuse_entity
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.chars
    parser.buffer_text = True  # one callback per text run, not per line
    parser.buffer_size = CHUNK_BYTES

    def fail(what: str, exc: BaseException) -> JouleError:
        if not builder.root_seen:
            return JouleError(f"{path} is not a MediaWiki XML dump ({what}: {exc})")
        return JouleError(f"{path}: {what} {progress.where()}: {exc}")

    try:
        for chunk in chunks:
            parser.Parse(chunk, False)
            yield from builder.ready
            builder.ready.clear()
        if close_root and builder.stack == ["mediawiki"]:
            parser.Parse(b"</mediawiki>", False)
        parser.Parse(b"", True)
        yield from builder.ready
        builder.ready.clear()
    except _EntityDeclared as exc:
        raise JouleError(f"{path} declares the XML entity {exc.name!r}; a MediaWiki dump never "
                         f"does, and entity expansion is off ({progress.where()})") from None
    except expat.ExpatError as exc:  # its message ends with the line and column
        raise fail("malformed or truncated XML", exc) from None
    except EOFError as exc:  # whatever was decompressed so far parsed fine
        raise JouleError(f"{path}: compressed stream ends early (truncated file?) "
                         f"{progress.where()}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise fail("unreadable or corrupt compressed data", exc) from None
    except JouleError as exc:  # raised by the handlers (wrong root element)
        raise JouleError(f"{path} is not a MediaWiki XML dump: {exc}") from None
