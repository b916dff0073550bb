"""One document, two renderings: Markdown (text only) and self-contained HTML (plots inline).

A document is a list of blocks: ("h1"|"h2"|"p", text), ("ul", [text]), ("table", header, rows),
("img", title, png_bytes). Text may hold `code` spans, the only inline markup used.
"""

from __future__ import annotations

import base64
import html
import re

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #222;
       line-height: 1.45; padding: 0 1em; }
table { border-collapse: collapse; font-size: 0.8em; margin: 1em 0; }
.scroll { overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.4em; text-align: right; vertical-align: top; }
td { white-space: nowrap; }              /* keep "45.0 [41.0, 49.0]" on one line */
td:nth-last-child(-n+3) { white-space: normal; min-width: 6em; }
td:nth-last-child(-n+2) { overflow-wrap: anywhere; text-align: left; }
th { min-width: 4.5em; }
th { background: #f2f2f2; text-align: center; }
td:first-child, th:first-child { text-align: left; }
code { background: #f4f4f4; padding: 0 0.2em; font-size: 0.92em; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
"""


def markdown(blocks: list[tuple]) -> str:
    """The document as Markdown; plots are named and left to the HTML report."""
    out = []
    for block in blocks:
        kind = block[0]
        if kind == "h1":
            out.append(f"# {block[1]}")
        elif kind == "h2":
            out.append(f"## {block[1]}")
        elif kind == "p":
            out.append(block[1])
        elif kind == "ul":
            out.append("\n".join(f"- {item}" for item in block[1]))
        elif kind == "table":
            header, rows = block[1], block[2]
            lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            out.append("\n".join(lines))
        elif kind == "img":
            out.append(f"*Plot: {block[1]} (embedded in report.html).*")
    return "\n\n".join(out) + "\n"


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def _inline(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(str(text), quote=False))


def to_html(blocks: list[tuple], title: str) -> str:
    """The document as one HTML file with its plots as base64 PNG data URIs."""
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{html.escape(title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>"]
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "p"):
            out.append(f"<{kind}>{_inline(block[1])}</{kind}>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block[1]) + "</ul>")
        elif kind == "table":
            head = "".join(f"<th>{_inline(h)}</th>" for h in block[1])
            # <wbr>: let `measured:nvml+estimated:tdp` break after its "+" rather than mid-word.
            body = "".join("<tr>" + "".join(f"<td>{_inline(c).replace('+', '+<wbr>')}</td>"
                                            for c in row) + "</tr>" for row in block[2])
            out.append(f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
                       f"<tbody>{body}</tbody></table></div>")
        elif kind == "img":
            data = base64.b64encode(block[2]).decode("ascii")
            caption = _inline(block[1])
            out.append(f'<figure><img alt="{html.escape(block[1])}" '
                       f'src="data:image/png;base64,{data}"><figcaption>{caption}</figcaption>'
                       "</figure>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"
