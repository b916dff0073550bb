"""Word counts that also mean something for scripts written without spaces.

`str.split()` counts a Chinese or Japanese paragraph as one or two "words", so a length limit in
words would drop every such page. The rule here: characters of a script written without spaces
between words count as 1/(characters per word) words each (an estimate: average word lengths
of ~1.5 characters for Chinese and Japanese, ~4 for Thai, Lao, Khmer and Burmese); everything else
counts one word per whitespace-separated token that has a character outside those scripts and
their punctuation (so a spaced text counts exactly as `len(text.split())`).
"""

from __future__ import annotations

import re

# (first, last) code points of each script written without spaces, and its characters per word.
_UNSPACED_RANGES = (
    (0x3040, 0x30FF, 1.5),    # Hiragana, Katakana
    (0x31F0, 0x31FF, 1.5),    # Katakana phonetic extensions
    (0x3400, 0x4DBF, 1.5),    # CJK unified ideographs extension A
    (0x4E00, 0x9FFF, 1.5),    # CJK unified ideographs
    (0xF900, 0xFAFF, 1.5),    # CJK compatibility ideographs
    (0xFF66, 0xFF9F, 1.5),    # half-width Katakana
    (0x20000, 0x3134F, 1.5),  # CJK extensions B-G
    (0x0E00, 0x0E7F, 4.0),    # Thai
    (0x0E80, 0x0EFF, 4.0),    # Lao
    (0x1780, 0x17FF, 4.0),    # Khmer
    (0x1000, 0x109F, 4.0),    # Myanmar
)
# Any character of those scripts: text without one (most of it) is counted by `str.split`.
_ANY_UNSPACED = re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b, _ in _UNSPACED_RANGES)
                           + "]")


def _unspaced_weight(char: str) -> float:
    """Words per character if `char` belongs to a script without spaces, else 0."""
    code = ord(char)
    if code < 0x0E00:  # the common case (Latin, Cyrillic, Greek, Arabic, ...) in one compare
        return 0.0
    for first, last, per_word in _UNSPACED_RANGES:
        if first <= code <= last:
            return 1.0 / per_word
    return 0.0


def _cjk_punctuation(char: str) -> bool:
    code = ord(char)
    return 0x3000 <= code <= 0x303F or 0xFF00 <= code <= 0xFF65


def count_words(text: str) -> int:
    """Words in `text`, rounded: whitespace tokens, plus the estimate above for unspaced scripts."""
    if not _ANY_UNSPACED.search(text):
        return len(text.split())
    words = 0.0
    for token in text.split():
        unspaced = 0.0
        other = False
        for char in token:
            weight = _unspaced_weight(char)
            if weight:
                unspaced += weight
            elif not _cjk_punctuation(char):
                other = True
        words += unspaced + other
    return round(words)


def unspaced_share(text: str) -> float:
    """Share of the letters of `text` in scripts written without spaces (0.0 for no letters)."""
    if not _ANY_UNSPACED.search(text):
        return 0.0
    letters = [c for c in text if c.isalnum()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if _unspaced_weight(c)) / len(letters)
