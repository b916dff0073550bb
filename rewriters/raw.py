"""Raw chunks: the page text as is, cut into pieces of about `chunk_words` words at paragraph
boundaries. The uncurated baseline trains on these."""

from __future__ import annotations

from collections.abc import Iterator

from rewriters.base import Rewriter


def paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of the non-blank paragraphs ("\\n\\n"-separated)."""
    out, pos = [], 0
    for part in text.split("\n\n"):
        if part.strip():
            out.append((pos, pos + len(part)))
        pos += len(part) + 2
    return out


class RawChunks(Rewriter):
    """Field `text`: consecutive paragraphs, verbatim, joined as in the page.

    Paragraphs are added to a chunk until it reaches `chunk_words`. A paragraph longer than
    `max_chunk_words` is cut at sentence ends (spaCy's), so no chunk is unboundedly long. A last
    chunk shorter than `min_words` joins the one before it; a page with fewer words in all gives
    no chunk.
    """

    name = "raw"
    version = 1

    def __init__(self, seed: int = 0, chunk_words: int = 256, max_chunk_words: int = 512,
                 min_words: int = 20):
        super().__init__(seed)
        self.chunk_words = chunk_words
        self.max_chunk_words = max_chunk_words
        self.min_words = min_words

    def _pieces(self, text: str, doc) -> list[tuple[int, int, int]]:
        """(start, end, words) units no longer than max_chunk_words where sentences allow."""
        units = []
        for start, end in paragraphs(text):
            words = len(text[start:end].split())
            if words <= self.max_chunk_words:
                units.append((start, end, words))
                continue
            # Sentences of this paragraph (doc covers the text; offsets index into it).
            piece_start, piece_words = start, 0
            for sent in doc.char_span(start, end, alignment_mode="expand").sents:
                n = len(sent.text.split())
                if piece_words and piece_words + n > self.chunk_words:
                    units.append((piece_start, sent.start_char, piece_words))
                    piece_start, piece_words = sent.start_char, 0
                piece_words += n
            units.append((piece_start, end, piece_words))
        return units

    def rewrite(self, page: dict, doc) -> Iterator[dict]:
        text = page["text"]
        chunks: list[list[int]] = []   # [start, end, words]
        for start, end, words in self._pieces(text, doc):
            if chunks and chunks[-1][2] < self.chunk_words:
                chunks[-1][1] = end
                chunks[-1][2] += words
            else:
                chunks.append([start, end, words])
        if len(chunks) > 1 and chunks[-1][2] < self.min_words:
            last = chunks.pop()
            chunks[-1][1:] = [last[1], chunks[-1][2] + last[2]]
        for start, end, words in chunks:
            if words < self.min_words:
                self.drop("too_short")
                continue
            yield self.make_record(page, {"text": text[start:end].strip()},
                                   {"start": start, "end": end, "words": words})
