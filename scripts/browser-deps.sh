#!/usr/bin/env bash
# The console's browser tests drive Debian's chromium through Playwright's Python package
# (never a browser Playwright downloads) and read Chinese through a CJK font. Installs both
# from Debian when missing (as root, as CI runs); otherwise says what to install and fails,
# since the browser tests must never skip silently.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# Read the font list whole first: `fc-list | grep -q` under pipefail fails when grep stops at
# its first match and fc-list dies of SIGPIPE, which read as "missing" on every run.
fonts=$(fc-list 2>/dev/null || true)
grep -qi "noto sans cjk" <<<"$fonts" || need+=(fonts-noto-cjk)
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "browser-deps: missing ${need[*]}: run 'sudo apt-get install ${need[*]}' (the browser tests need them)" >&2
    exit 1
fi
echo "browser-deps: installing ${need[*]} from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" fontconfig >/dev/null
