#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL 15 started from the machine's own binaries
# (`pg_config --bindir`), then stop it and delete its data, whatever the command's outcome.
#
#   scripts/with-postgres.sh CMD [ARG...]
#
# The command sees XINBAO_TEST_POSTGRES_URL (a SQLAlchemy URL over a Unix socket). PostgreSQL
# refuses to run as root, so as root the server runs as the `postgres` user via runuser on a
# temporary directory that user owns; as anyone else it runs as that user.
set -euo pipefail

bindir="$(pg_config --bindir 2>/dev/null || true)"
if [[ -z "$bindir" || ! -x "$bindir/initdb" ]]; then
  for candidate in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [[ -x "$candidate/initdb" ]] && bindir="$candidate" && break
  done
fi
if [[ -z "$bindir" || ! -x "$bindir/initdb" ]]; then
  echo "with-postgres: no PostgreSQL server binaries (initdb) found; install postgresql-15" >&2
  exit 1
fi

workdir="$(mktemp -d -t xinbao-pg.XXXXXX)"
as_owner=()
if [[ "$(id -u)" == "0" ]]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  chown postgres "$workdir"
  chmod 700 "$workdir"
  as_owner=(runuser -u postgres --)
  user=postgres
else
  user="$(id -un)"
fi
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"

cleanup() {
  "${as_owner[@]}" "$bindir/pg_ctl" -D "$workdir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$workdir"
}
trap cleanup EXIT INT TERM

"${as_owner[@]}" "$bindir/initdb" -D "$workdir/data" -U "$user" -A trust -E UTF8 \
  --locale=C.UTF-8 >"$workdir/initdb.log" 2>&1 || { cat "$workdir/initdb.log" >&2; exit 1; }
"${as_owner[@]}" "$bindir/pg_ctl" -D "$workdir/data" -l "$workdir/server.log" -w -t 60 \
  -o "-k $workdir -p $port -c listen_addresses='' -c fsync=off -c full_page_writes=off" \
  start >/dev/null || { cat "$workdir/server.log" >&2; exit 1; }
"${as_owner[@]}" "$bindir/createdb" -h "$workdir" -p "$port" -U "$user" xinbao_test

export XINBAO_TEST_POSTGRES_URL="postgresql+psycopg://${user}@/xinbao_test?host=${workdir}&port=${port}"
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on $workdir port $port"
set +e
"$@"
status=$?
set -e
exit $status
