#!/usr/bin/env bash
# Usage: bench/scale.sh [SIZES="10000 100000 1000000"] [CONCURRENCY=8]
# For each list size: `check`, `preview`, `send --dry-run` and a real `send`
# over SMTP to ../shared/bench/sink.sh (Postfix smtp-sink), each under
# /usr/bin/time -v: wall time, µs per subscriber, msgs/s, peak RSS; then the
# ledger's size. The list ends with one duplicate row, so the duplicate check
# is exercised (and reported with file:line) at every size. Ends
# with ../shared/bench/limit.sh at the same message size and sessions (100,000
# messages, one run) for the ratio. Prints a Markdown table.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); repo=$(dirname "$here")
shared=${SHARED_BENCH:-$repo/../shared/bench}
SIZES=${1:-"10000 100000 1000000"} CONC=${2:-8} PORT=${PORT:-2525}
(cd "$repo" && cargo build --release --quiet)
BIN=$repo/target/release/tipsheet
W=$(mktemp -d); SINK=
trap 'rm -rf "$W"; [ -n "$SINK" ] && kill "$SINK" 2>/dev/null || true' EXIT
ss -ltn "sport = :$PORT" | grep -q LISTEN || SINK=$("$shared/sink.sh" "$PORT")
cp -r "$repo/content" "$W/content"
printf 'email,reason,at\n' > "$W/suppressed.csv"
sed -e 's/^transport = "outbox"/transport = "smtp"/' \
    -e "s/^port = 2525/port = $PORT/" \
    -e "s/^concurrency = 4/concurrency = $CONC/" \
    -e 's/^comparisons_per_issue = 3/comparisons_per_issue = 6/' \
    -e 's/^excerpt_words = 60/excerpt_words = 90/' \
    -e 's/^max_reading_minutes = 5/max_reading_minutes = 30/' \
    -e 's#^path = "subscribers/subscribers.csv"#path = "subscribers.csv"#' \
    -e 's#^suppressed_path = "subscribers/suppressed.csv"#suppressed_path = "suppressed.csv"#' \
    "$repo/config.toml" > "$W/config.toml"
export TIPSHEET_SECRET=bench-secret-at-least-32-bytes-long
measure() { # prints "seconds rss_mb", the command's output to $W/out
  /usr/bin/time -v "$BIN" --config "$W/config.toml" --now 2026-12-01T14:00:00Z "$@" > "$W/out" 2> "$W/err" || { cat "$W/err" >&2; exit 1; }
  local wall rss
  wall=$(grep 'Elapsed (wall clock)' "$W/err" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep 'Maximum resident set size' "$W/err" | grep -oE '[0-9]+$')
  echo "$wall $((rss / 1024))"
}
echo "| subscribers | command | wall time | µs/subscriber | msgs/s | peak RSS |"
echo "|---:|---|---:|---:|---:|---:|"
size=0
for n in $SIZES; do
  python3 - "$n" > "$W/subscribers.csv" <<'PY'
import sys
print("email,name,subscribed_at")
for i in range(1, int(sys.argv[1]) + 1):
    print(f"user{i:07d}@example.com,Reader {i},2026-01-01")
print("USER0000001@example.com,Duplicate,2026-01-01")
PY
  rm -rf "$W/state"
  for cmd in check preview "send --dry-run" send; do
    read -r secs rss < <(measure $cmd)
    rate=-
    case "$cmd" in
      "send --dry-run") rate=$(grep -oE '= [0-9]+ msgs/s' "$W/out" | grep -oE '[0-9]+') ;;
      send) rate=$(awk -v n="$n" -v s="$(grep -oE 'in [0-9.]+s;' "$W/out" | grep -oE '[0-9.]+')" 'BEGIN{printf "%.0f", n/s}')
            ledger=$(du -m "$W/state/tipsheet.sqlite3" | cut -f1) ;;
      preview) size=$(wc -c < "$W"/state/preview/*.eml) ;;
    esac
    grep -q "duplicates line 2" "$W/out" "$W/err" || echo "note: $cmd did not report the duplicate row" >&2
    per=$(awk -v n="$n" -v s="$secs" 'BEGIN{printf "%.1f", s * 1e6 / n}')
    echo "| $n | \`$cmd\` | ${secs}s | $per | $rate | ${rss} MB |"
  done
  echo "| $n | ledger size | | | | ${ledger} MB on disk |"
done
ref=$("$shared/limit.sh" 100000 "$size" "$CONC" "$PORT" reuse 1 | tail -1)
echo
echo "message size $size B; $ref"
