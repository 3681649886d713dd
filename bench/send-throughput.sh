#!/usr/bin/env bash
# Usage: bench/send-throughput.sh [N=20000] [CONCURRENCY=8] [RUNS=3] [--dkim rsa|ed25519|both|dual|all]
# In one run, on one machine: starts ../shared/bench/sink.sh (Postfix
# smtp-sink), generates N subscribers, sends one issue of about 20-25 KB over
# SMTP with `delivery.concurrency = CONCURRENCY` and the ledger on, RUNS times
# (fresh ledger each time), unsigned and then with each DKIM key asked for
# (`dual`: RSA-2048 and Ed25519 signatures on every message; `all`: rsa,
# ed25519 and dual);
# then runs ../shared/bench/limit.sh for the same count, size and sessions.
# Prints each median, the ratios to smtp-source and tipsheet's peak RSS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); repo=$(dirname "$here")
shared=${SHARED_BENCH:-$repo/../shared/bench}
DKIM=none; args=()
while (($#)); do
  case "$1" in
    --dkim) DKIM=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
N=${args[0]:-20000} CONC=${args[1]:-8} RUNS=${args[2]:-3} PORT=${PORT:-2525}
case "$DKIM" in
  none) MODES="unsigned" ;; rsa) MODES="unsigned rsa" ;; ed25519) MODES="unsigned ed25519" ;;
  both) MODES="unsigned rsa ed25519" ;; dual) MODES="unsigned dual" ;;
  all) MODES="unsigned rsa ed25519 dual" ;;
  *) echo "--dkim takes rsa, ed25519, both, dual or all" >&2; exit 2 ;;
esac
(cd "$repo" && cargo build --release --quiet)
BIN=$repo/target/release/tipsheet
W=$(mktemp -d); SINK=
trap 'rm -rf "$W"; [ -n "$SINK" ] && kill "$SINK" 2>/dev/null || true' EXIT
ss -ltn "sport = :$PORT" | grep -q LISTEN || SINK=$("$shared/sink.sh" "$PORT")
cp -r "$repo/content" "$W/content"
python3 - "$N" > "$W/subscribers.csv" <<'PY'
import sys
print("email,name,subscribed_at")
for i in range(1, int(sys.argv[1]) + 1):
    print(f"user{i:06d}@example.com,Reader {i},2026-01-01")
PY
printf 'email,reason,at\n' > "$W/suppressed.csv"
sed -e 's/^transport = "outbox"/transport = "smtp"/' \
    -e "s/^port = 2525/port = $PORT/" \
    -e "s/^concurrency = 4/concurrency = $CONC/" \
    -e 's/^comparisons_per_issue = 3/comparisons_per_issue = 6/' \
    -e 's/^excerpt_words = 60/excerpt_words = 90/' \
    -e 's#^path = "subscribers/subscribers.csv"#path = "subscribers.csv"#' \
    -e 's#^suppressed_path = "subscribers/suppressed.csv"#suppressed_path = "suppressed.csv"#' \
    -e 's/^max_reading_minutes = 5/max_reading_minutes = 30/' \
    "$repo/config.toml" > "$W/base.toml"
openssl genrsa -traditional -out "$W/rsa.pem" 2048 2>/dev/null
openssl genpkey -algorithm ed25519 -out "$W/ed25519.pem" 2>/dev/null
export TIPSHEET_SECRET=bench-secret-at-least-32-bytes-long
"$BIN" --config "$W/base.toml" preview --out "$W/preview" >/dev/null 2>&1
size=$(wc -c < "$W"/preview/*.eml)
declare -A MED
for mode in $MODES; do
  cp "$W/base.toml" "$W/config.toml"
  if [ "$mode" = dual ]; then
    printf '\n[dkim]\ndomain = "example.com"\nselector = "bench"\nprivate_key_path = "rsa.pem"\nsecond_selector = "bench-ed"\nsecond_private_key_path = "ed25519.pem"\n' >> "$W/config.toml"
  elif [ "$mode" != unsigned ]; then
    printf '\n[dkim]\ndomain = "example.com"\nselector = "bench"\nprivate_key_path = "%s.pem"\n' "$mode" >> "$W/config.toml"
  fi
  rates=(); rss=0
  for run in $(seq "$RUNS"); do
    rm -rf "$W/state"
    out=$( { /usr/bin/time -v "$BIN" --config "$W/config.toml" --now 2026-12-01T14:00:00Z send 2>&1; } )
    secs=$(grep -oE 'in [0-9.]+s;' <<<"$out" | grep -oE '[0-9.]+' | head -1)
    delivered=$(grep -oE '[0-9]+ delivered' <<<"$out" | head -1 | grep -oE '[0-9]+')
    kb=$(grep 'Maximum resident set size' <<<"$out" | grep -oE '[0-9]+$')
    ((kb > rss)) && rss=$kb
    rate=$(awk -v n="$delivered" -v s="$secs" 'BEGIN{printf "%.0f", n/s}')
    echo "tipsheet $mode run $run: $delivered msgs in ${secs}s = $rate msgs/s, peak RSS $((kb/1024)) MB" >&2
    rates+=("$rate")
  done
  med=$(printf '%s\n' "${rates[@]}" | sort -g | awk '{r[NR]=$1} END{print r[int((NR+1)/2)]}')
  MED[$mode]=$med
  ledger=$(du -k "$W/state/tipsheet.sqlite3" | cut -f1)
  echo "tipsheet ($mode): $N msgs x $size B, $CONC connections: median $med msgs/s (runs: ${rates[*]}), peak RSS $((rss/1024)) MB, ledger $((ledger/1024)) MB"
done
ref=$("$shared/limit.sh" "$N" "$size" "$CONC" "$PORT" reuse "$RUNS" | tail -1)
echo "$ref"
refrate=$(grep -oE 'median [0-9]+' <<<"$ref" | grep -oE '[0-9]+')
for mode in $MODES; do
  awk -v m="$mode" -v a="${MED[$mode]}" -v b="$refrate" 'BEGIN{printf "ratio tipsheet (%s) / smtp-source: %.2f\n", m, a/b}'
done
