"""The review's report as a PDF for the client (reportlab): the title block under a band in
the MSP's color with its name and logo, then the sections of pdf_sections.py; on every later
page a header with the brand and the review, and on every page a footer with who prepared it
for whom and "Page n of m". Charts are vector drawings; text is selectable."""

from __future__ import annotations

import io
from typing import Any

from reportlab.lib.colors import HexColor, white
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Frame, PageTemplate, Paragraph, Spacer
from reportlab.platypus.doctemplate import BaseDocTemplate, NextPageTemplate

from reports.deliverables import pdf_sections as sections
from reports.deliverables.brand import Brand
from reports.deliverables.content import Content, content_of
from reports.deliverables.pdf_charts import GRID, MUTED
from reports.deliverables.pdf_fonts import ASIAN, BOLD, FONT, drawable, markup, register
from reports.deliverables.text import ELLIPSIS, one_line

MARGIN = 0.7 * inch
BAND = 1.05 * inch  # the first page's band in the brand color
HEADER = 0.3 * inch  # later pages' header


def report_pdf(data: dict[str, Any], brand: Brand) -> bytes:
    """The review's report (`report_data`) as a PDF in `brand`."""
    register()
    content = content_of(data)
    out = io.BytesIO()
    width, height = LETTER
    body = width - 2 * MARGIN
    document = BaseDocTemplate(
        out,
        pagesize=LETTER,
        title=one_line(f"{content.client} · {content.heading}", 200),
        author=brand.name,
        subject=content.review,
        creator="xbr",
        # the same bytes for the same review: no creation date, no random document id
        invariant=True,
    )
    furniture = _Furniture(content, brand)
    # no padding inside the frames: the tables span the body's width exactly
    bare = {"leftPadding": 0, "rightPadding": 0, "topPadding": 0, "bottomPadding": 0}
    first = Frame(MARGIN, MARGIN, body, height - MARGIN - BAND - 0.35 * inch, id="first", **bare)
    later = Frame(MARGIN, MARGIN, body, height - 2 * MARGIN - HEADER, id="later", **bare)
    document.addPageTemplates([
        PageTemplate("first", [first], onPage=furniture.first_page),
        PageTemplate("later", [later], onPage=furniture.later_page),
    ])  # fmt: skip
    document.build(_story(content, brand, body), canvasmaker=_NumberedCanvas)
    return out.getvalue()


def _story(content: Content, brand: Brand, width: float) -> list[Any]:
    s = sections.Styles(brand)
    return [
        NextPageTemplate("later"),
        *sections.title_block(s, content, width),
        Spacer(1, 4),
        *sections.scorecard(s, content, width),
        *sections.changes(s, content),
        *sections.findings(s, content, width),
        *sections.tickets(s, content, width),
        *sections.roadmap(s, content, width),
        *sections.budget(s, content, width),
        *sections.decisions(s, content, width),
        *sections.next_meeting(s, content),
    ]


class _Furniture:
    """What every page carries besides its content: the band, the header, the footer."""

    def __init__(self, content: Content, brand: Brand) -> None:
        self.content, self.brand = content, brand
        self.styles = sections.Styles(brand)

    def first_page(self, canvas: Canvas, document: Any) -> None:
        """The band across the top in the brand color, the MSP's name in it, its logo on a
        white card at the right."""
        width, height = document.pagesize
        canvas.saveState()
        canvas.setFillColor(HexColor(self.brand.color))
        canvas.rect(0, height - BAND, width, BAND, stroke=0, fill=1)
        on_band = ParagraphStyle("band", self.styles.by_name["h2"], textColor=white)
        logo = self.brand.logo
        room = width - 2 * MARGIN - (1.8 * inch if logo else 0)  # the logo's card at the right
        _place(canvas, self.brand.name, on_band, MARGIN, height - BAND / 2 - 7, room, bold=True)
        if logo is not None:
            shown_w, shown_h = logo.fit(1.5 * inch, BAND - 0.4 * inch)
            card_w, card_h = shown_w + 0.16 * inch, shown_h + 0.16 * inch
            x, y = width - MARGIN - card_w, height - BAND / 2 - card_h / 2
            canvas.setFillColor(white)
            canvas.roundRect(x, y, card_w, card_h, 4, stroke=0, fill=1)
            canvas.drawImage(_image(logo.data), x + 0.08 * inch, y + 0.08 * inch, shown_w,
                             shown_h, mask="auto")  # fmt: skip
        canvas.restoreState()
        self.footer(canvas, document)

    def later_page(self, canvas: Canvas, document: Any) -> None:
        """The brand at the left, the client and review at the right, a rule in its color."""
        width, height = document.pagesize
        top = height - MARGIN + 0.1 * inch
        canvas.saveState()
        half = (width - 2 * MARGIN) / 2
        small = self.styles.by_name["small"]
        _place(canvas, self.brand.name, small, MARGIN, top, half - 12, bold=True)
        said = f"{self.content.client} · {self.content.heading}"
        right = ParagraphStyle("right", small, alignment=TA_RIGHT)
        _place(canvas, said, right, MARGIN + half + 12, top, half - 12)
        canvas.setStrokeColor(HexColor(self.brand.color))
        canvas.setLineWidth(1.2)
        canvas.line(MARGIN, top - 5, width - MARGIN, top - 5)
        canvas.restoreState()
        self.footer(canvas, document)

    def footer(self, canvas: Canvas, document: Any) -> None:
        width, _ = document.pagesize
        canvas.saveState()
        canvas.setStrokeColor(GRID)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN, MARGIN - 0.2 * inch, width - MARGIN, MARGIN - 0.2 * inch)
        said = f"Prepared by {self.brand.name} for {self.content.client} · {self.content.review}"
        _place(canvas, said, self.styles.by_name["small"], MARGIN, MARGIN - 0.4 * inch,
               width - 2 * MARGIN - 1.2 * inch)  # fmt: skip
        canvas.restoreState()


def _place(
    canvas: Canvas, text: str, style: ParagraphStyle, x: float, y: float, width: float,
    bold: bool = False,
) -> None:  # fmt: skip
    """One line of text drawn with its bottom at `y`, cut with an ellipsis to `width`."""
    line = _fitted(one_line(text, 200), BOLD if bold else style.fontName, style.fontSize, width)
    shown = markup(line)
    paragraph = Paragraph(f"<b>{shown}</b>" if bold else shown, style)
    paragraph.wrapOn(canvas, width, 200)
    paragraph.drawOn(canvas, x, y)


def _fitted(text: str, font: str, size: float, width: float) -> str:
    """The text, or as much of it as fits `width` with an ellipsis after it (an Asian
    character counted as wide as an M: its font is the reader's own)."""

    def wide(candidate: str) -> float:
        measured = ASIAN.sub("M", drawable(candidate))
        return float(stringWidth(measured, font, size))

    if wide(text) <= width:
        return text
    low, high = 0, len(text)  # the longest start that fits with its ellipsis
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if wide(text[:middle] + ELLIPSIS) <= width else (low, middle - 1)
    return text[:low].rstrip() + ELLIPSIS


def _image(data: bytes) -> Any:
    from reportlab.lib.utils import ImageReader

    return ImageReader(io.BytesIO(data))


class _NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab has no type hints
    """A canvas that writes "Page n of m" on every page once it knows m: each page's drawing
    is kept until the document ends."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 (reportlab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for page in self._pages:
            self.__dict__.update(page)
            width, _ = self._pagesize
            self.setFont(FONT, 7.5)
            self.setFillColor(MUTED)
            self.drawRightString(width - MARGIN, MARGIN - 0.4 * inch + 2,
                                 f"Page {self._pageNumber} of {total}")  # fmt: skip
            super().showPage()
        super().save()
