#!/usr/bin/env bash
# Usage: bench/send-throughput.sh [N=20000] [CONCURRENCY=8] [RUNS=3] [--dkim rsa|ed25519]
# One run, one machine: starts ../shared/bench/sink.sh (Postfix smtp-sink),
# generates N subscribers, sends one issue of about 20 KB over SMTP with
# `delivery.concurrency = CONCURRENCY` and the ledger on, RUNS times (fresh
# state each time), then runs ../shared/bench/limit.sh for the same count,
# size and sessions, and prints both medians, their ratio and tipsheet's peak RSS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); repo=$(dirname "$here")
shared=${SHARED_BENCH:-$repo/../shared/bench}
N=20000 CONC=8 RUNS=3 DKIM=
args=()
while (($#)); do
  case "$1" in
    --dkim) DKIM=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
N=${args[0]:-$N} CONC=${args[1]:-$CONC} RUNS=${args[2]:-$RUNS}
PORT=${PORT:-2525}
(cd "$repo" && cargo build --release --quiet)
BIN=$repo/target/release/tipsheet
W=$(mktemp -d); SINK=
trap 'rm -rf "$W"; [ -n "$SINK" ] && kill "$SINK" 2>/dev/null || true' EXIT
ss -ltn "sport = :$PORT" | grep -q LISTEN || SINK=$("$shared/sink.sh" "$PORT")

cp -r "$repo/content" "$W/content"
python3 - "$N" > "$W/subscribers.csv" <<'PY'
import sys
n = int(sys.argv[1])
print("email,name,subscribed_at")
for i in range(1, n + 1):
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
    "$repo/config.toml" > "$W/config.toml"
if [ -n "$DKIM" ]; then
  case "$DKIM" in
    rsa) openssl genrsa -traditional -out "$W/dkim.pem" 2048 2>/dev/null ;;
    ed25519) openssl genpkey -algorithm ed25519 -out "$W/dkim.pem" 2>/dev/null ;;
    *) echo "--dkim takes rsa or ed25519" >&2; exit 2 ;;
  esac
  cat >> "$W/config.toml" <<TOML

[dkim]
domain = "example.com"
selector = "bench"
private_key_path = "dkim.pem"
TOML
fi
export TIPSHEET_SECRET=bench-secret
size=$("$BIN" --config "$W/config.toml" preview --out "$W/preview" 2>/dev/null >/dev/null; wc -c < "$W"/preview/*.eml)
rates=()
rss=0
for run in $(seq "$RUNS"); do
  rm -rf "$W/state"
  out=$( { /usr/bin/time -v "$BIN" --config "$W/config.toml" --now 2026-12-01T14:00:00Z send 2>&1; } )
  secs=$(grep -oE 'in [0-9.]+s;' <<<"$out" | grep -oE '[0-9.]+' | head -1)
  delivered=$(grep -oE '[0-9]+ delivered' <<<"$out" | head -1 | grep -oE '[0-9]+')
  kb=$(grep 'Maximum resident set size' <<<"$out" | grep -oE '[0-9]+$')
  ((kb > rss)) && rss=$kb
  rate=$(awk -v n="$delivered" -v s="$secs" 'BEGIN{printf "%.0f", n/s}')
  echo "tipsheet run $run: $delivered msgs in ${secs}s = $rate msgs/s, peak RSS $((kb/1024)) MB" >&2
  rates+=("$rate")
done
med=$(printf '%s\n' "${rates[@]}" | sort -g | awk '{r[NR]=$1} END{print r[int((NR+1)/2)]}')
ledger=$(du -k "$W/state/tipsheet.sqlite3" | cut -f1)
echo "tipsheet: $N msgs x $size B, $CONC connections${DKIM:+, DKIM $DKIM}: median $med msgs/s (runs: ${rates[*]}), peak RSS $((rss/1024)) MB, ledger $((ledger/1024)) MB"
ref=$("$shared/limit.sh" "$N" "$size" "$CONC" "$PORT" reuse "$RUNS" | tail -1)
echo "$ref"
refrate=$(grep -oE 'median [0-9]+' <<<"$ref" | grep -oE '[0-9]+')
awk -v a="$med" -v b="$refrate" 'BEGIN{printf "ratio tipsheet / smtp-source: %.2f\n", a/b}'
