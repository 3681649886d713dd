#!/usr/bin/env bash
# Usage: bench/store.sh one   [N=20000] [CONCURRENCY=8] [RUNS=3]
#        bench/store.sh hosts [N=3000]  [CONCURRENCY=4] [DELAY_MS=10] [RUNS=3]
# The shared store's cost and its scale-out, in one run on one machine.
#  one:   one host sends one issue of N recipients to Postfix's smtp-sink
#         (../shared/bench/sink.sh), RUNS times with the SQLite ledger and RUNS
#         times on PostgreSQL (a fresh database per run, the list imported
#         first); prints both medians and PostgreSQL / SQLite.
#  hosts: the sink behind ../shared/bench/lag.py (DELAY_MS each way: a relay
#         about 2 x DELAY_MS away, latency not CPU); one host of CONCURRENCY
#         connections, then three such hosts on one PostgreSQL store sharing the
#         issue; prints msgs/s of each (wall clock, first start to last exit)
#         and three / one (each run, then the medians). Wall clock includes
#         each process's start and the freeze.
# PostgreSQL comes from TIPSHEET_TEST_POSTGRES (default
# postgres://postgres@127.0.0.1:5432/test); each run creates and drops its own
# database. TIPSHEET_BIN=PATH measures that binary instead of building one
# (TIPSHEET_CONFIG=PATH: the config.toml its sites start from).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); repo=$(dirname "$here")
shared=${SHARED_BENCH:-$repo/../shared/bench}
MODE=${1:-one}; shift || true
export PGOPTIONS=--client-min-messages=warning
ADMIN=${TIPSHEET_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
PORT=${PORT:-2535}
# TIPSHEET_BIN: a prebuilt binary to measure instead (no build).
if [ -n "${TIPSHEET_BIN:-}" ]; then BIN=$TIPSHEET_BIN; else
  (cd "$repo" && cargo build --release --quiet); BIN=$repo/target/release/tipsheet; fi
W=$(mktemp -d); PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
PIDS+=("$("$shared/sink.sh" "$PORT")")
export TIPSHEET_SECRET=bench-secret-at-least-32-bytes-long
db_url() { echo "${ADMIN%/*}/$1"; }
fresh_db() { psql "$ADMIN" -qAtc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null; psql "$ADMIN" -qAtc "CREATE DATABASE $1" >/dev/null; }
drop_db() { psql "$ADMIN" -qAtc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null; }
# site DIR SMTP_PORT CONCURRENCY [URL]: a config, content and (for SQLite) the list.
site() {
  mkdir -p "$1"; cp -r "$repo/content" "$1/content"
  sed -e 's/^transport = "outbox"/transport = "smtp"/' \
      -e "s/^port = 2525/port = $2/" \
      -e "s/^concurrency = 4/concurrency = $3/" \
      -e 's#^path = "subscribers/subscribers.csv"#path = "../subscribers.csv"#' \
      -e 's#^suppressed_path = "subscribers/suppressed.csv"#suppressed_path = "../suppressed.csv"#' \
      "${TIPSHEET_CONFIG:-$repo/config.toml}" > "$1/config.toml"
  if [ -n "${4:-}" ]; then
    sed -i "s|^# url = \"postgres://tipsheet@127.0.0.1:5432/tipsheet\"|url = \"$4\"|" "$1/config.toml"
  fi
}
list() {
  python3 - "$1" > "$W/subscribers.csv" <<'PY'
import sys
print("email,name,subscribed_at")
for i in range(1, int(sys.argv[1]) + 1):
    print(f"user{i:06d}@example.com,Reader {i},2026-01-01")
PY
  printf 'email,reason,at\n' > "$W/suppressed.csv"
}
rate() { grep -oE '[0-9]+ delivered, .* in [0-9.]+s' <<<"$1" | awk '{n=$1; s=$NF; sub("s","",s); printf "%.0f", n/s}'; }
median() { printf '%s\n' "$@" | sort -g | awk '{r[NR]=$1} END{print r[int((NR+1)/2)]}'; }
send() { "$BIN" --config "$1/config.toml" --now 2026-12-01T14:00:00Z send 2>&1; }

case "$MODE" in
one)
  N=${1:-20000} CONC=${2:-8} RUNS=${3:-3}
  list "$N"
  sq=(); pg=()
  for run in $(seq "$RUNS"); do
    rm -rf "$W/sqlite"; site "$W/sqlite" "$PORT" "$CONC"
    r=$(rate "$(send "$W/sqlite")"); sq+=("$r"); echo "sqlite run $run: $r msgs/s" >&2
    fresh_db tipsheet_bench; rm -rf "$W/pg"; site "$W/pg" "$PORT" "$CONC" "$(db_url tipsheet_bench)"
    "$BIN" --config "$W/pg/config.toml" subscribers import "$W/subscribers.csv" >/dev/null
    r=$(rate "$(send "$W/pg")"); pg+=("$r"); echo "postgres run $run: $r msgs/s" >&2
    drop_db tipsheet_bench
  done
  a=$(median "${sq[@]}"); b=$(median "${pg[@]}")
  echo "one host, $N recipients, $CONC connections, smtp-sink: SQLite median $a msgs/s (${sq[*]}), PostgreSQL median $b msgs/s (${pg[*]})"
  awk -v a="$a" -v b="$b" 'BEGIN{printf "ratio PostgreSQL / SQLite: %.2f\n", b/a}'
  ;;
hosts)
  N=${1:-3000} CONC=${2:-4} DELAY=${3:-10} RUNS=${4:-3}
  LAG=$((PORT + 1))
  python3 "$shared/lag.py" "$LAG" "$PORT" "$DELAY" > "$W/lag.log" 2>&1 & PIDS+=("$!")
  for _ in $(seq 50); do grep -q ready "$W/lag.log" 2>/dev/null && break; sleep 0.1; done
  list "$N"
  ones=(); threes=(); ratios=()
  for run in $(seq "$RUNS"); do
    # One host.
    fresh_db tipsheet_bench; rm -rf "$W/one"; site "$W/one" "$LAG" "$CONC" "$(db_url tipsheet_bench)"
    "$BIN" --config "$W/one/config.toml" subscribers import "$W/subscribers.csv" >/dev/null
    t0=$(date +%s.%N); send "$W/one" > "$W/one.log"; t1=$(date +%s.%N)
    one=$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", n/(b-a)}')
    drop_db tipsheet_bench
    # Three hosts, one store.
    fresh_db tipsheet_bench
    for h in a b c; do rm -rf "${W:?}/$h"; site "$W/$h" "$LAG" "$CONC" "$(db_url tipsheet_bench)"; done
    "$BIN" --config "$W/a/config.toml" subscribers import "$W/subscribers.csv" >/dev/null
    t0=$(date +%s.%N)
    senders=()
    for h in a b c; do send "$W/$h" > "$W/$h.log" & senders+=("$!"); done
    # Only the senders: lag.py is a background job of this shell too.
    for p in "${senders[@]}"; do wait "$p" || true; done
    t1=$(date +%s.%N)
    three=$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", n/(b-a)}')
    shares=$(for h in a b c; do grep -oE '[0-9]+ delivered' "$W/$h.log" | head -1 | grep -oE '[0-9]+'; done | paste -sd/)
    drop_db tipsheet_bench
    ratio=$(awk -v a="$one" -v b="$three" 'BEGIN{printf "%.2f", b/a}')
    echo "run $run: one host $one msgs/s, three hosts $three msgs/s (shares $shares), ratio $ratio" >&2
    ones+=("$one"); threes+=("$three"); ratios+=("$ratio")
  done
  echo "relay $((2 * DELAY)) ms RTT away (lag.py), $N recipients, $CONC connections per host, $RUNS runs: one host median $(median "${ones[@]}") msgs/s (${ones[*]}), three hosts median $(median "${threes[@]}") msgs/s (${threes[*]})"
  echo "ratio three hosts / one host: median $(median "${ratios[@]}") (${ratios[*]})"
  ;;
*) echo "usage: bench/store.sh one|hosts [...]" >&2; exit 2 ;;
esac
