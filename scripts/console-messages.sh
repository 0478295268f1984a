#!/usr/bin/env bash
# Extract the console's messages from its templates and code, and bring both catalogs up to
# date (new messages added empty, gone ones dropped). Then translate what is new in
# src/xinbao/entrypoints/console/locale/zh_CN/LC_MESSAGES/console.po: a test fails on an
# untranslated message.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
LOCALE=src/xinbao/entrypoints/console/locale
POT=$(mktemp --suffix=.pot)
trap 'rm -f "$POT"' EXIT
"$BIN/pybabel" extract -F babel.cfg -k N_ --no-location --sort-output \
    --project=xinbao --omit-header -o "$POT" .
for locale in zh_CN en; do
    po="$LOCALE/$locale/LC_MESSAGES/console.po"
    if [ -f "$po" ]; then
        "$BIN/pybabel" update -D console -i "$POT" -o "$po" -l "$locale" \
            --no-fuzzy-matching --ignore-obsolete
    else
        "$BIN/pybabel" init -D console -i "$POT" -o "$po" -l "$locale"
    fi
done
