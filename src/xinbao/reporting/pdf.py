"""What the PDFs the insurer sends have in common (the claim statements, the e-policy): the
embedded CJK font and the date they carry. The font is Noto Sans SC Regular 2.004 (SIL Open
Font License 1.1) from the data-only ``pylopdf-fonts-zh-cn`` package, installed from the lock
file: nothing is fetched at run time and no system font is assumed; fpdf2 embeds only the
glyphs a document uses."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Final

from fpdf import FPDF
from pylopdf_fonts_zh_cn import sans_path

#: The family name the font is registered under, and the name it carries inside the PDF.
FONT_FAMILY: Final = "NotoSansSC"
#: Documents are dated in China Standard Time (UTC+8, no daylight saving).
CHINA_STANDARD_TIME: Final = timezone(timedelta(hours=8))


def prepare(pdf: FPDF, *, dated: date, title: str, subject: str) -> None:
    """Register the font and date the document ``dated`` (midnight, China Standard Time):
    fpdf2 would date it now, and derives its file identifier from the content, so the same
    content always gives the same bytes."""
    pdf.add_font(FONT_FAMILY, fname=sans_path())
    pdf.set_creation_date(datetime.combine(dated, time(), CHINA_STANDARD_TIME))
    pdf.set_lang("zh-CN")
    pdf.set_title(title)
    pdf.set_subject(subject)
    pdf.set_creator("Xinbao")
