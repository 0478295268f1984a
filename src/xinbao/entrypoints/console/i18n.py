"""The console's languages: zh-CN by default, English on request (a cookie).

Every string a page shows is a message of the Babel catalogs under ``locale/`` (``console``
domain); templates mark them with ``{% trans %}`` or ``_()``. The catalogs are read from
their ``.po`` text at start (nothing compiled is kept in the repository), and each language
has its own Jinja environment with its translations installed. ``scripts/console-messages.sh``
extracts the messages and updates both catalogs; a test fails on a message missing from a
catalog or left untranslated in Chinese.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import Translations
from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

LOCALES = ("zh_CN", "en")
DEFAULT = "zh_CN"
#: The cookie that keeps a person's choice of language.
LANG_COOKIE = "xinbao_lang"
#: What the language switch calls each language, in that language.
NAMES = {"zh_CN": "中文", "en": "English"}
CATALOGS = Path(__file__).parent / "locale"


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark for extraction"
    """Mark a message for the catalogs; it is translated where it is shown."""
    return message


#: What the console calls each role (``iam.model.security.Role``), by its code.
ROLE_NAMES = {
    "underwriter": N_("Underwriter"),
    "underwriting_approver": N_("Underwriting approver"),
    "claims_adjuster": N_("Claims adjuster"),
    "claims_approver": N_("Claims approver"),
    "collector": N_("Collector"),
    "agency_collector": N_("Agency collector"),
    "finance": N_("Finance"),
    "risk_manager": N_("Risk manager"),
    "actuary": N_("Actuary"),
    "auditor": N_("Auditor"),
    "admin": N_("Administrator"),
    "funder": N_("Funder"),
}
_TEMPLATES = Path(__file__).parent / "templates"


def catalog_path(locale: str) -> Path:
    return CATALOGS / locale / "LC_MESSAGES" / "console.po"


@cache
def translations(locale: str) -> Translations:
    """The locale's catalog, compiled in memory from its ``.po`` file."""
    with catalog_path(locale).open("rb") as f:
        catalog = read_po(f, locale=locale, domain="console")
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain="console")


def locale_of(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE, DEFAULT)
    return chosen if chosen in LOCALES else DEFAULT


def yuan(fen: int, locale: str) -> str:
    """An amount of fen as yuan with two places, grouped for the locale."""
    return format_decimal(Decimal(fen) / 100, format="#,##0.00", locale=locale)


def percent(fraction: Decimal | float | None, locale: str) -> str:
    return "—" if fraction is None else format_percent(fraction, format="#,##0.0%",
                                                       locale=locale)


@cache
def templates(locale: str) -> Jinja2Templates:
    """The console's templates in one language (autoescaped, with its messages)."""
    env = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=True,
                      extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(locale=locale, html_lang=locale.replace("_", "-"), languages=NAMES)
    env.filters["yuan"] = lambda fen: yuan(fen, locale)
    env.filters["percent"] = lambda fraction: percent(fraction, locale)
    env.filters["role"] = lambda code: translations(locale).gettext(
        ROLE_NAMES.get(str(code), str(code)))
    return Jinja2Templates(env=env)
