"""Tiny fixture pages for the rewrite tests (written by the tests; no real corpus needed)."""

from __future__ import annotations

from pathlib import Path

from joule.io import write_table

LEAD = ("Marie Curie was a physicist and chemist who worked in Paris. "
        "She was born in Warsaw in 1867 and moved to France in 1891. "
        "Curie won the Nobel Prize in Physics in 1903 with Pierre Curie and Henri Becquerel.")
BODY = ("Marie Curie studied at the University of Paris, where she met Pierre Curie in 1894. "
        "Albert Einstein praised her work at the Solvay Conference in Brussels in 1911. "
        "The Radium Institute opened in Paris in 1914 with funding from the Pasteur Institute.\n\n"
        "Irene Joliot-Curie, her daughter, also won a Nobel Prize in 1935 in Stockholm. "
        "Curie died in Passy in 1934 from aplastic anaemia caused by radiation.")
LINCOLN = ("Abraham Lincoln was elected president of the United States in 1860. "
           "Lincoln was born in Kentucky in 1809 and grew up in Indiana. "
           "Ulysses Grant led the Union army to victory in Virginia in 1865. "
           "Robert Lee surrendered to Grant at Appomattox in April 1865.")


def page(pid: str, title: str, paragraphs: list[str]) -> dict:
    """A page with a lead section (the first paragraph) and one level-2 section (the rest)."""
    text = "\n\n".join(paragraphs)
    lead_end = len(paragraphs[0])
    sections = [{"title": "", "level": 1, "start": 0, "end": lead_end}]
    if len(paragraphs) > 1:
        sections.append({"title": "Life", "level": 2, "start": lead_end + 2, "end": len(text)})
    return {"id": pid, "title": title, "text": text, "sections": sections}


def good_pages() -> list[dict]:
    return [page("1", "Marie Curie", [LEAD, BODY]), page("2", "Abraham Lincoln", [LINCOLN])]


def odd_pages() -> list[dict]:
    long_word = "Pneumonoultramicroscopicsilicovolcanoconiosis"
    long_para = " ".join([long_word] * 9 + ["is long."] * 1)
    long_text = "\n\n".join([long_para] * 450)[:200_000]
    return [
        page("e", "Empty", [""]),
        page("w", "Word", ["Hello"]),
        page("n", "No entities", ["the cat sat on the mat and it was very happy about that."]),
        page("z", "Chinese", ["玛丽·居里是一位物理学家和化学家。她出生于华沙。",
                              "她获得了诺贝尔奖。"]),
        page("u", "Odd unicode", ["Zoe\u0301 met Rene\u0301 in Paris in 1990 🎉🎉. "
                                  "They laughed \u200b\u200d at the café with Ana in 2001 😀."]),
        page("l", "Long", [long_text]),
    ]


def write_pages(data_dir: Path, pages: list[dict]) -> Path:
    """Write `pages` as `<data_dir>/pages/part-00000.parquet`; returns data_dir."""
    (data_dir / "pages").mkdir(parents=True, exist_ok=True)
    write_table(data_dir / "pages" / "part-00000.parquet", pages)
    return data_dir
