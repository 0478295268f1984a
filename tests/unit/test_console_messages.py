"""The console's messages: every string a page shows is in both catalogs, translated into
Chinese, and no template holds text outside them (issue 20)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from xinbao.entrypoints.console import i18n

CONSOLE = Path(i18n.__file__).parent
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
#: Attributes whose values a person reads (or hears, with a screen reader).
READ_ATTRIBUTES = re.compile(r'\b(?:title|placeholder|aria-label|alt)="([^"{]*)"')
#: Text that needs no translation: punctuation, symbols, numbers.
NEUTRAL = re.compile(r"^[\s\W\d_·—]*$")


def extracted() -> set[str]:
    return {message for _, _, message, *_ in extract_from_dir(
        CONSOLE, METHODS, keywords={"_": None, "gettext": None, "N_": None},
        options_map=OPTIONS) if isinstance(message, str)}


def catalog(locale: str) -> dict[str, str]:
    with i18n.catalog_path(locale).open("rb") as f:
        return {m.id: m.string for m in read_po(f, locale=locale) if m.id}


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_each_catalog_holds_exactly_the_messages_of_the_console(locale):
    messages = extracted()
    assert len(messages) > 30
    assert set(catalog(locale)) == messages, "run scripts/console-messages.sh"


def test_every_message_is_translated_into_chinese():
    untranslated = [m for m, text in catalog("zh_CN").items() if not text.strip()]
    assert untranslated == []


def test_no_template_shows_text_outside_the_catalogs():
    for template in sorted((CONSOLE / "templates").glob("*.html")):
        source = template.read_text(encoding="utf-8")
        text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", "\x00", source, flags=re.S)
        for value in READ_ATTRIBUTES.findall(text):
            assert NEUTRAL.match(value), f"{template.name}: attribute {value!r}"
        text = re.sub(r"<[^>]*>", " ", text)  # markup is not shown
        text = re.sub(r"&#?\w+;", " ", text).replace("\x00", " ")
        assert NEUTRAL.match(text), f"{template.name}: {text.strip()!r}"


def test_a_catalog_is_what_the_pages_use():
    assert i18n.translations("zh_CN").gettext("Dashboard") == "总览"
    assert i18n.translations("en").gettext("Dashboard") == "Dashboard"
    assert i18n.yuan(123_456_789, "zh_CN") == "1,234,567.89"
