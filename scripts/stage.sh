#!/usr/bin/env bash
# Run one stage of a make target and say how long it took; the line is also kept in
# _build/stage-times.txt, which `scripts/stage.sh --summary` prints (make test ends with it).
#   scripts/stage.sh "book from stored outputs" jupyter-book build .
set -uo pipefail
times="$(dirname "$0")/../_build/stage-times.txt"
if [ "$1" = "--summary" ]; then
    [ -f "$times" ] || exit 0
    echo "=== stage times (seconds) ==="
    cat "$times"
    awk '{ total += $1 } END { printf "%7.1f  total\n", total }' "$times"
    exit 0
fi
name=$1
shift
started=$(date +%s.%N)
"$@"
status=$?
line=$(awk -v a="$started" -v b="$(date +%s.%N)" -v name="$name" \
    'BEGIN { printf "%7.1f  %s", b - a, name }')
mkdir -p "$(dirname "$times")"
echo "$line$([ $status = 0 ] || echo "  (failed: exit $status)")" >> "$times"
echo "⏱ $line"
exit $status
