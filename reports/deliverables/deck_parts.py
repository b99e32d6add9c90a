"""What every slide of the deck shares: a 16:9 deck from python-pptx's own template, a title in
the brand's color, a footer with the MSP, the client and the slide's number, bulleted text,
a plain table, and the line saying how many more rows the full report holds."""

from __future__ import annotations

from typing import Any

from pptx.dml.color import RGBColor
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.util import Emu, Inches, Pt

from reports.deliverables.brand import Brand
from reports.deliverables.content import Content
from reports.deliverables.text import one_line

WIDE, HIGH = Inches(13.333), Inches(7.5)
TITLE_ONLY = 5  # the layouts of python-pptx's template: 0 title slide, 5 title only
INK, MUTED, RULE = (
    RGBColor(0x1F, 0x23, 0x28),
    RGBColor(0x57, 0x60, 0x6A),
    RGBColor(0xD8, 0xDE, 0xE4),
)
Lines = list[tuple[int, str]]  # (indent level, text)


class Slides:
    """The deck being made, with its brand and the review it shows."""

    def __init__(self, deck: Any, brand: Brand, content: Content) -> None:
        deck.slide_width, deck.slide_height = WIDE, HIGH
        self.deck, self.brand, self.content = deck, brand, content
        self.width = WIDE

    def new(self, title: str, layout: int = TITLE_ONLY) -> Any:
        """A slide with its title in the brand's color (and, but on the first, a footer)."""
        slide = self.deck.slides.add_slide(self.deck.slide_layouts[layout])
        shape = slide.shapes.title
        shape.text = title
        font = shape.text_frame.paragraphs[0].runs[0].font
        font.color.rgb, font.bold = RGBColor(*self.brand.rgb), True
        font.size = Pt(40 if layout == 0 else 30)
        if layout != 0:
            shape.left, shape.top, shape.width, shape.height = (
                Inches(0.6), Inches(0.35), WIDE - Inches(1.2), Inches(0.9)
            )  # fmt: skip
            shape.text_frame.paragraphs[0].alignment = PP_ALIGN.LEFT
            shape.text_frame.vertical_anchor = MSO_ANCHOR.MIDDLE
            self._footer(slide)
        return slide

    def _footer(self, slide: Any) -> None:
        number = len(self.deck.slides)
        c = self.content
        said = one_line(f"{self.brand.name} · {c.client} · {c.heading}", 140)
        line = slide.shapes.add_connector(1, Inches(0.6), Inches(6.95), WIDE - Inches(0.6),
                                          Inches(6.95))  # fmt: skip
        line.line.color.rgb, line.line.width = RULE, Pt(0.75)
        self.text(slide, said, Inches(0.6), Inches(7.0), WIDE - Inches(2.2), Inches(0.35), 10,
                  MUTED)  # fmt: skip
        box = self.text(slide, str(number), WIDE - Inches(1.6), Inches(7.0), Inches(1.0),
                        Inches(0.35), 10, MUTED)  # fmt: skip
        box.text_frame.paragraphs[0].alignment = PP_ALIGN.RIGHT

    def text(
        self, slide: Any, text: str, left: int, top: int, width: int, height: int, size: int,
        color: RGBColor = INK,
    ) -> Any:  # fmt: skip
        """A text box holding one paragraph of `text`."""
        box = slide.shapes.add_textbox(Emu(left), Emu(top), Emu(width), Emu(height))
        box.text_frame.word_wrap = True
        run = box.text_frame.paragraphs[0].add_run()
        run.text = text
        run.font.size, run.font.color.rgb = Pt(size), color
        return box

    def bullets(self, title: str, lines: Lines) -> Any:
        """A slide of bulleted lines under its title."""
        slide = self.new(title)
        self.body(slide, lines)
        return slide

    def body(self, slide: Any, lines: Lines) -> None:
        box = slide.shapes.add_textbox(Inches(0.8), Inches(1.4), WIDE - Inches(1.6),
                                       Inches(5.2))  # fmt: skip
        box.text_frame.word_wrap = True
        lines_of(box.text_frame, lines, size=20, bullet=True)

    def more(self, slide: Any, count: int, what: str) -> None:
        """ "and 12 more findings in the full report", under the slide's list."""
        if count > 0:
            said = f"and {count:,} more {what} in the full report"
            self.text(slide, said, Inches(0.8), Inches(6.45), WIDE - Inches(1.6), Inches(0.4), 14,
                      MUTED)  # fmt: skip


def lines_of(
    frame: Any, lines: Lines, size: int, bullet: bool = False, align: Any = PP_ALIGN.LEFT
) -> None:
    """The lines as the frame's paragraphs; a deeper level smaller and in grey."""
    for n, (level, text) in enumerate(lines):
        paragraph = frame.paragraphs[0] if n == 0 else frame.add_paragraph()
        paragraph.alignment = align
        paragraph.space_after = Pt(6)
        run = paragraph.add_run()
        run.text = f"{'•' if level == 0 else '–'} {text}" if bullet else text
        run.font.size = Pt(size - 4 * level)
        run.font.color.rgb = MUTED if level else INK
        if bullet and level:
            paragraph.level = level


def table_on(
    slides: Slides, slide: Any, head: list[str], rows: list[list[str]], inches: list[float]
) -> None:
    """A table under the slide's title: a header row in the brand's color, then the rows."""
    height = Inches(0.45) * (len(rows) + 1)
    shape = slide.shapes.add_table(len(rows) + 1, len(head), Inches(0.6), Inches(1.4),
                                   Inches(sum(inches)), height)  # fmt: skip
    table = shape.table
    for n, width in enumerate(inches):
        table.columns[n].width = Inches(width)
    for r, values in enumerate([head, *rows]):
        for k, value in enumerate(values):
            cell = table.cell(r, k)
            cell.text = value
            font = cell.text_frame.paragraphs[0].runs[0].font
            font.size, font.bold = Pt(12), r == 0 or k == 1
            if r == 0:
                cell.fill.solid()
                cell.fill.fore_color.rgb = RGBColor(*slides.brand.rgb)
