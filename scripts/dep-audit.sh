#!/usr/bin/env bash
# Audit the installed Python environment for dependencies with known vulnerabilities.
#
#   scripts/dep-audit.sh [PYTHON [PIP-AUDIT-ARG...]]
#
# PYTHON is the interpreter of the environment to audit (default: .venv/bin/python of this
# repository); pip-audit must be installed in it (`pip install -e '.[dev]'`). Any further
# arguments go to pip-audit, e.g. `-s osv`. Advisories listed in security/audit-ignore.txt
# (`ID  reason` a line) are ignored. The editable xinbao install itself is not audited.
# pip-audit gets DEP_AUDIT_TIMEOUT seconds (default 120) in all.
#
# Exit 0: no known vulnerabilities, or the vulnerability service could not be reached (then a
#         line on stderr says the audit was skipped, which is not a pass).
# Exit 1: known vulnerabilities; their table is printed.
# Exit 2: the audit could not run for another reason; pip-audit's error is printed.
#
# A mirror or proxy that serves package indexes but answers 404 to PyPI's JSON API makes
# pip-audit skip every package and still print "No known vulnerabilities found"; this script
# reads pip-audit's JSON report and counts that as unreachable, not as a pass.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${1:-$root/.venv/bin/python}"
[[ $# -gt 0 ]] && shift
ignore_file="$root/security/audit-ignore.txt"
time_limit="${DEP_AUDIT_TIMEOUT:-120}"

if ! "$py" -c 'import pip_audit' 2>/dev/null; then
  echo "dep-audit: pip-audit is not installed for $py (pip install -e '.[dev]')" >&2
  exit 2
fi

args=(--progress-spinner off --desc off --skip-editable --format json)
ignored=0
if [[ -f "$ignore_file" ]]; then
  while read -r id _reason || [[ -n "${id:-}" ]]; do
    [[ -z "${id:-}" || "$id" == \#* ]] && continue
    args+=(--ignore-vuln "$id")
    ignored=$((ignored + 1))
  done <"$ignore_file"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
unreachable() {
  echo "dep-audit: vulnerability service unreachable; skipped (not a pass)" >&2
  [[ -n "${1:-}" ]] && echo "dep-audit: $1" >&2
  exit 0
}

started=$SECONDS
status=0
timeout "$time_limit" "$py" -m pip_audit "${args[@]}" --output "$work/report.json" "$@" \
  2>"$work/stderr" || status=$?
elapsed=$((SECONDS - started))

if [[ $status -eq 124 ]]; then
  unreachable "pip-audit did not finish within ${time_limit} s"
fi
if [[ ! -s "$work/report.json" ]]; then
  network='ConnectionError|ConnectTimeout|ReadTimeout|Max retries exceeded|NameResolution'
  network+='|Name or service not known|Temporary failure in name resolution|nodename nor servname'
  network+='|Failed to establish a new connection|Connection (refused|reset|aborted)'
  network+='|Network is unreachable|No route to host|timed out|ProxyError|SSLError'
  if grep -Eq "$network" "$work/stderr"; then
    unreachable "$(grep -Em1 "$network" "$work/stderr" | cut -c1-200)"
  fi
  echo "dep-audit: pip-audit failed (exit $status) without a report:" >&2
  cat "$work/stderr" >&2
  exit 2
fi

# The report decides, not pip-audit's exit status: vulnerabilities -> 1, nothing audited -> skip.
verdict=0
"$py" - "$work/report.json" "$elapsed" "$ignored" <<'PY' || verdict=$?
import json
import sys

report_path, elapsed, ignored = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(report_path, encoding="utf-8") as f:
    dependencies = json.load(f)["dependencies"]
audited = [d for d in dependencies if "vulns" in d]
skipped = [d for d in dependencies
           if "skip_reason" in d and "editable" not in d["skip_reason"]]
if not audited:
    reason = skipped[0]["skip_reason"] if skipped else "no dependencies found"
    print("dep-audit: vulnerability service unreachable; skipped (not a pass)", file=sys.stderr)
    print(f"dep-audit: no package could be audited ({len(skipped)} skipped, e.g. {reason})",
          file=sys.stderr)
    sys.exit(3)

rows = [(d["name"], d["version"], v["id"], ", ".join(v.get("fix_versions", [])) or "none")
        for d in audited for v in d["vulns"]]
if rows:
    header = ("Name", "Version", "ID", "Fix Versions")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, tuple("-" * w for w in widths), *sorted(rows)]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    packages = len({r[0] for r in rows})
    print(f"dep-audit: {len(rows)} known vulnerabilities in {packages} packages "
          f"({len(audited)} packages audited in {elapsed} s)", file=sys.stderr)
    sys.exit(1)

summary = f"dep-audit: {len(audited)} packages audited in {elapsed} s, no known vulnerabilities"
if ignored:
    summary += f" ({ignored} advisories ignored per security/audit-ignore.txt)"
if skipped:
    summary += f"; not auditable: {', '.join(sorted(d['name'] for d in skipped))}"
print(summary)
PY

case $verdict in
  0) exit 0 ;;
  1) exit 1 ;;
  3) exit 0 ;;
  *) echo "dep-audit: could not read pip-audit's report" >&2; exit 2 ;;
esac
