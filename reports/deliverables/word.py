"""The client summary as a Word document to edit before it is sent (python-docx): the summary
draft of reports/documents.py (`summary_markdown`) as real Word structure, its subject the
document's title, its `##` headings Word headings, its `-` lines bulleted list items, its
`**bold**` bold runs; the MSP's name (and logo) in the page header, its color on the headings.

The draft's Markdown is xbr's own template with every value escaped for Markdown, so reading
it back is simple and exact: an escaped character is that character, text; only the
template's marks make structure.
"""

from __future__ import annotations

import io
import re
from typing import Any

from docx import Document
from docx.shared import Emu, Inches, Pt, RGBColor

from reports.deliverables.brand import Brand
from reports.deliverables.text import clean, one_line
from reports.documents import summary_markdown

SUBJECT = "**Subject:** "
# an escaped character (its mark is text), or the template's bold mark
_INLINE = re.compile(r"\\([\\`*\[\]<>|])|\*\*")


def summary_docx(data: dict[str, Any], brand: Brand) -> bytes:
    """The client summary of the review (`report_data`) as a .docx file's bytes."""
    markdown = summary_markdown(data)
    document = Document()
    _styles(document, brand)
    _header_and_footer(document, brand, one_line(data["review"]["client"], 200))
    for block in _blocks(markdown):
        _add(document, block)
    title = next((b[1] for b in _blocks(markdown) if b[0] == "title"), "Summary")
    document.core_properties.title = one_line(_plain(title), 200)
    document.core_properties.author = brand.name
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _blocks(markdown: str) -> list[tuple[str, str]]:
    """The draft as (kind, Markdown text) blocks: title, heading, bullet, italic, paragraph;
    a paragraph's lines joined by line breaks, as the email shows them."""
    blocks: list[tuple[str, str]] = []
    lines: list[str] = []

    def paragraph() -> None:
        if lines:
            blocks.append(("paragraph", "\n".join(lines)))
            lines.clear()

    for line in markdown.splitlines():
        if line.startswith(SUBJECT):
            blocks.append(("title", line[len(SUBJECT) :]))
        elif line.startswith("## "):
            paragraph()
            blocks.append(("heading", line[3:]))
        elif line.startswith("- "):
            paragraph()
            blocks.append(("bullet", line[2:]))
        elif len(line) > 2 and line.startswith("_") and line.endswith("_"):
            paragraph()
            blocks.append(("italic", line[1:-1]))
        elif line.strip():
            lines.append(line)
        else:
            paragraph()
    paragraph()
    return blocks


def _add(document: Any, block: tuple[str, str]) -> None:
    kind, text = block
    if kind == "title":
        document.add_heading(_plain(text), level=0)
    elif kind == "heading":
        document.add_heading(_plain(text), level=1)
    else:
        style = "List Bullet" if kind == "bullet" else None
        paragraph = document.add_paragraph(style=style)
        for part, bold in _runs(text):
            for n, line in enumerate(part.split("\n")):
                if n:
                    paragraph.add_run().add_break()
                run = paragraph.add_run(clean(line))
                run.bold, run.italic = bold or None, kind == "italic" or None


def _runs(text: str) -> list[tuple[str, bool]]:
    """Markdown text as (text, bold) runs: escapes undone, `**` toggling bold."""
    runs: list[tuple[str, bool]] = []
    bold, at, piece = False, 0, []
    for mark in _INLINE.finditer(text):
        piece.append(text[at : mark.start()])
        at = mark.end()
        if mark.group(1) is not None:
            piece.append(mark.group(1))
            continue
        runs.append(("".join(piece), bold))
        piece, bold = [], not bold
    piece.append(text[at:])
    runs.append(("".join(piece), bold))
    return [(part, bold) for part, bold in runs if part]


def _plain(text: str) -> str:
    return "".join(part for part, _ in _runs(text))


def _styles(document: Any, brand: Brand) -> None:
    """Calibri 11 for the text; the title and headings in the brand's color."""
    normal = document.styles["Normal"].font
    normal.name, normal.size = "Calibri", Pt(11)
    for name in ("Title", "Heading 1"):
        font = document.styles[name].font
        font.color.rgb = RGBColor(*brand.rgb)
        font.name = "Calibri"
    document.styles["Title"].font.size = Pt(22)


def _header_and_footer(document: Any, brand: Brand, client: str) -> None:
    """The MSP's logo (or name) in the header, who prepared it for whom in the footer."""
    section = document.sections[0]
    header = section.header.paragraphs[0]
    if brand.logo is not None:
        width, height = brand.logo.fit(Inches(1.6), Inches(0.5))
        header.add_run().add_picture(io.BytesIO(brand.logo.data), Emu(int(width)),
                                     Emu(int(height)))  # fmt: skip
        header.add_run("  ")
    name = header.add_run(brand.name)
    name.bold, name.font.color.rgb = True, RGBColor(*brand.rgb)
    footer = section.footer.paragraphs[0].add_run(f"Prepared by {brand.name} for {client}")
    footer.font.size, footer.font.color.rgb = Pt(9), RGBColor(0x57, 0x60, 0x6A)
