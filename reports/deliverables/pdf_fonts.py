"""The PDF's fonts and how text from people becomes reportlab's Paragraph markup.

The text is DejaVu Sans (shipped inside matplotlib, which xbr installs anyway), embedded as a
subset, so that Latin, Greek, Cyrillic, Hebrew, Arabic letters and most symbols print the same
everywhere. Chinese, Japanese and Korean characters go in the Adobe Asian fonts every PDF
reader knows (not embedded: the reader draws them with its own). Anything neither covers (an
emoji) becomes U+FFFD, so the text never breaks the file and what it says can still be copied.
Every value is escaped for the Paragraph mini-markup: no tag comes from the data.
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from reports.deliverables.text import clean

FONT, BOLD = "DejaVuSans", "DejaVuSans-Bold"
HAN, HANGUL = "STSong-Light", "HYGothic-Medium"  # Adobe-GB1 holds kana too
MISSING = "\ufffd"
_FILES = {FONT: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf",
          "DejaVuSans-Oblique": "DejaVuSans-Oblique.ttf",
          "DejaVuSans-BoldOblique": "DejaVuSans-BoldOblique.ttf"}  # fmt: skip
_HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff]")
_HAN = re.compile(
    "[\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u31f0-\u31ff\u3200-\u32ff\u3300-\u33ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]"
)


def _font_folder() -> Path:
    # found without importing matplotlib (a quarter of a second the PDF does not need)
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("matplotlib is not installed: its DejaVu Sans font draws the PDF")
    return Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"


@cache
def register() -> frozenset[int]:
    """Register the fonts with reportlab (once per process); the code points DejaVu Sans draws."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont

    folder = _font_folder()
    fonts = {name: TTFont(name, str(folder / file)) for name, file in _FILES.items()}
    for font in fonts.values():
        pdfmetrics.registerFont(font)
    for bold, italic, name in ((0, 0, FONT), (1, 0, BOLD), (0, 1, "DejaVuSans-Oblique"),
                               (1, 1, "DejaVuSans-BoldOblique")):  # fmt: skip
        addMapping(FONT, bold, italic, name)
    for name in (HAN, HANGUL):
        pdfmetrics.registerFont(UnicodeCIDFont(name))
    both = set(fonts[FONT].face.charToGlyph) & set(fonts[BOLD].face.charToGlyph)
    # past the Basic Multilingual Plane reportlab writes a character's Unicode wrongly (five
    # hex digits, not a surrogate pair), and copying it out of the PDF fails: U+FFFD instead
    return frozenset(c for c in both if c <= 0xFFFF)


def drawable(text: str) -> str:
    """The text as the PDF shows it: without invisible format characters (a soft hyphen, a
    zero-width joiner: the PDF's lines are set without shaping), what no font of it draws as
    U+FFFD."""
    covered = register()
    return "".join(
        c if c in " \t\n" or _font_of(c, covered) else MISSING
        for c in clean(text)
        if unicodedata.category(c) != "Cf"
    )


def markup(text: str) -> str:
    """Text from people as Paragraph markup: escaped, each run of Asian characters in its
    font, every other character DejaVu Sans lacks as U+FFFD."""
    covered = register()
    out: list[str] = []
    run_font, run = "", list[str]()
    for char in drawable(text):
        font = _font_of(char, covered) or ""
        if font != run_font and run:
            out.append(_run(run_font, "".join(run)))
            run = []
        run_font = font
        run.append(char)
    if run:
        out.append(_run(run_font, "".join(run)))
    return "".join(out)


ASIAN = re.compile(f"{_HANGUL.pattern}|{_HAN.pattern}")


def _font_of(char: str, covered: frozenset[int]) -> str | None:
    """FONT for what DejaVu Sans draws (in both weights), else an Asian font, else None."""
    if ord(char) in covered:
        return FONT
    if _HANGUL.match(char):
        return HANGUL
    if _HAN.match(char):
        return HAN
    return None


def _run(font: str, text: str) -> str:
    escaped = escape(text)
    return escaped if font == FONT else f'<font name="{font}">{escaped}</font>'
