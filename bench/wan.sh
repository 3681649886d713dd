#!/usr/bin/env bash
# Usage: bench/wan.sh [RTTS="0 20 80"] [CONNS="1 8 32"] [RUNS=1]
# Sending across a WAN, in one run on one machine: Postfix's smtp-sink
# (../shared/bench/sink.sh, which advertises PIPELINING) behind
# ../shared/bench/lag.py holding every byte RTT/2 ms each way. For each round
# trip and number of connections, tipsheet (release build, ledger on, unsigned,
# about 20 KB messages) and Postfix's smtp-source (../shared/bench/limit.sh,
# which never pipelines) send the same number of messages of the same size over
# the same number of connections through the same proxy. Prints a Markdown
# table: msgs/s of each (median of RUNS), their ratio, and the one-round-trip
# limit (connections / RTT) that PIPELINING allows.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); repo=$(dirname "$here")
shared=${SHARED_BENCH:-$repo/../shared/bench}
RTTS=${1:-"0 20 80"} CONNS=${2:-"1 8 32"} RUNS=${3:-1}
PORT=${PORT:-2535}
(cd "$repo" && cargo build --release --quiet)
BIN=$repo/target/release/tipsheet
W=$(mktemp -d); SINK=; LAGS=()
cleanup() {
  for p in "${LAGS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$SINK" ] && kill "$SINK" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
SINK=$("$shared/sink.sh" "$PORT")
cp -r "$repo/content" "$W/content"
printf 'email,reason,at\n' > "$W/suppressed.csv"
export TIPSHEET_SECRET=bench-secret-at-least-32-bytes-long
config() { # config.toml for sending to port $1 over $2 connections
  sed -e 's/^transport = "outbox"/transport = "smtp"/' \
      -e "s/^port = 2525/port = $1/" \
      -e "s/^concurrency = 4/concurrency = $2/" \
      -e 's/^comparisons_per_issue = 3/comparisons_per_issue = 6/' \
      -e 's/^excerpt_words = 60/excerpt_words = 90/' \
      -e 's/^max_reading_minutes = 5/max_reading_minutes = 30/' \
      -e 's#^path = "subscribers/subscribers.csv"#path = "subscribers.csv"#' \
      -e 's#^suppressed_path = "subscribers/suppressed.csv"#suppressed_path = "suppressed.csv"#' \
      "$repo/config.toml" > "$W/config.toml"
}
subscribers() {
  python3 - "$1" > "$W/subscribers.csv" <<'PY'
import sys
print("email,name,subscribed_at")
for i in range(1, int(sys.argv[1]) + 1):
    print(f"user{i:06d}@example.com,Reader {i},2026-01-01")
PY
}
median() { sort -g | awk '{r[NR]=$1} END{print r[int((NR+1)/2)]}'; }
config "$PORT" 1
subscribers 10
"$BIN" --config "$W/config.toml" preview --out "$W/preview" >/dev/null 2>&1
size=$(wc -c < "$W"/preview/*.eml)
echo "messages of $size B; smtp-sink on $PORT; lag.py per RTT; $RUNS run(s) per cell"
echo
echo "| RTT | connections | messages | tipsheet msgs/s | smtp-source msgs/s | ratio | 1-RTT limit |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
lport=$((PORT + 1))
for rtt in $RTTS; do
  lport=$((lport + 1))
  python3 "$shared/lag.py" "$lport" "$PORT" "$(awk -v r="$rtt" 'BEGIN{print r/2}')" > "$W/lag.out" 2>&1 &
  LAGS+=($!)
  for _ in $(seq 50); do grep -q ready "$W/lag.out" 2>/dev/null && break; sleep 0.1; done
  for conns in $CONNS; do
    # Enough messages per connection for a steady state: about 7 s of
    # tipsheet at one round trip a message (so that connecting, EHLO and the
    # first, unpipelined envelope are about 1% of it) and four times that
    # for smtp-source; without delay, enough for tipsheet's clock (10 ms) to
    # be exact.
    case $rtt in 0) per=$(( 12000 / conns )) ;; *) per=$(( 7000 / rtt )) ;; esac
    ((per < 20)) && per=20
    n=$((conns * per))
    subscribers "$n"
    config "$lport" "$conns"
    ours=()
    for _ in $(seq "$RUNS"); do
      rm -rf "$W/state"
      out=$("$BIN" --config "$W/config.toml" --now 2026-12-01T14:00:00Z send 2>&1)
      secs=$(grep -oE 'in [0-9.]+s;' <<<"$out" | grep -oE '[0-9.]+' | head -1)
      got=$(grep -oE '[0-9]+ delivered' <<<"$out" | head -1 | grep -oE '[0-9]+')
      [ "$got" = "$n" ] || { echo "tipsheet delivered $got of $n: $out" >&2; exit 1; }
      ours+=("$(awk -v n="$n" -v s="$secs" 'BEGIN{printf "%.0f", n/s}')")
    done
    theirs=$("$shared/limit.sh" "$n" "$size" "$conns" "$lport" reuse "$RUNS" | tail -1 |
      grep -oE 'median [0-9]+' | grep -oE '[0-9]+')
    a=$(printf '%s\n' "${ours[@]}" | median)
    limit=$( ((rtt > 0)) && awk -v c="$conns" -v r="$rtt" 'BEGIN{printf "%.0f", c*1000/r}' || echo "-")
    awk -v r="$rtt" -v c="$conns" -v n="$n" -v a="$a" -v b="$theirs" -v l="$limit" \
      'BEGIN{printf "| %s ms | %s | %s | %s | %s | %.2f | %s |\n", r, c, n, a, b, a/b, l}'
  done
done
