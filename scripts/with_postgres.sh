#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL server on 127.0.0.1, then stop and remove the server,
# whether the command passed or failed. The command sees DBOS_SYSTEM_DATABASE_URL pointing at it.
#   scripts/with_postgres.sh make test
set -euo pipefail

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pg_bin" ]; then
    echo "PostgreSQL binaries not found; installing Debian's postgresql package" >&2
    apt-get install -y --no-install-recommends postgresql >/dev/null
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
# A free port, so several runs (or a developer's own server) never collide; or the one you set.
port=${DBOS_BOOK_PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
home=$(mktemp -d /tmp/dbos-book-postgres.XXXXXX)

# The server refuses to run as root: run it as an unprivileged user.
as_owner=()
if [ "$(id -u)" = 0 ]; then
    id dbosbook >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin dbosbook
    chown dbosbook "$home"
    chmod 755 "$home"
    as_owner=(runuser -u dbosbook --)
fi

stop_server() {
    "${as_owner[@]}" "$pg_bin/pg_ctl" -D "$home/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$home"
}
trap stop_server EXIT

"${as_owner[@]}" "$pg_bin/initdb" -D "$home/data" -U postgres --auth=trust >/dev/null
"${as_owner[@]}" "$pg_bin/pg_ctl" -D "$home/data" -l "$home/server.log" -w \
    -o "-p $port -k $home -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (removed on exit)"

export DBOS_SYSTEM_DATABASE_URL="postgresql://postgres@127.0.0.1:$port/postgres"
"$@"
