"""Streaming reader of MediaWiki XML exports (`pages-articles.xml`, plain, .bz2 or .gz).

Memory stays flat with dump size: the file is fed to expat in fixed-size chunks and only the
fields of the page being read are held (title, namespace, id, redirect flag, wikitext); a page is
handed on as soon as its `</page>` closes. We drive `pyexpat` directly rather than
`ElementTree.iterparse` because it lets us refuse DTD entity declarations outright: iterparse's
C parser expands internal entities (expat >= 2.4 only caps the amplification factor), whereas a
real dump never declares any, so a file that does is refused before anything is expanded
("billion laughs" safe by construction, not by a limit).
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
    progress = progress if progress is not None else Progress()
    if not path.is_file():
        raise JouleError(f"dump file {path} does not exist")
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
        with open_dump(path) as f:
            while chunk := f.read(CHUNK_BYTES):
                parser.Parse(chunk, False)
                yield from builder.ready
                builder.ready.clear()
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
