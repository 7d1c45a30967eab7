#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL server on 127.0.0.1, then stop and remove the server,
# whether the command passed or failed. The command sees DBOS_SYSTEM_DATABASE_URL pointing at it.
#   scripts/with_postgres.sh make test
# The launcher is notebooks/booktools/postgres.py, the one make bench and chapter 11 use too;
# this wrapper only installs Debian's PostgreSQL binaries when the machine has none.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "PostgreSQL binaries not found; installing Debian's postgresql package" >&2
    apt-get install -y --no-install-recommends postgresql >/dev/null \
        || { apt-get update >/dev/null && apt-get install -y --no-install-recommends postgresql >/dev/null; }
fi
python="$root/.venv/bin/python"
[ -x "$python" ] || python=python3
exec "$python" "$root/notebooks/booktools/postgres.py" "$@"
