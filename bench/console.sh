#!/usr/bin/env bash
# Usage: bench/console.sh [ENGINE=sqlite|postgres|both] [RECIPIENTS=1000000] [RUNS=30]
# How long the console's dashboard (GET /admin) takes to render for a site
# whose last twelve issues went to RECIPIENTS readers in all (each issue a
# twelfth of them: 1% bounced, 0.5% failed; per issue 0.05% complaints, 0.2%
# unsubscribes and the hard bounces as events), on the embedded SQLite ledger
# and on PostgreSQL. The ledger is written directly (SQL, not a million
# sends) with each issue left `sending`, then `tipsheet send --date` finishes
# each one as a real send does (it retries the failed 0.5%, which the outbox
# transport takes, and marks the issue sent, keeping its tally). Then `serve`
# runs the release build, a publisher signs in, and the dashboard is fetched
# RUNS times: the first after the server starts (cold), then the median and
# 95th percentile of the rest; then `/metrics` (a Prometheus scrape) and
# `tipsheet status`, five times each. A second round deletes the kept tallies first
# (a ledger sent by a version that kept none, or twelve issues that each got
# a new event since): `serve` counts them itself as it starts, and the first
# render comes as soon as the publisher has signed in, while it may still be
# counting.
# PostgreSQL comes from TIPSHEET_TEST_POSTGRES (default
# postgres://postgres@127.0.0.1:5432/test); the run creates and drops its own
# database. TIPSHEET_BIN=PATH measures that binary instead of building one.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); repo=$(dirname "$here")
ENGINE=${1:-both}; N=${2:-1000000}; RUNS=${3:-30}
export PGOPTIONS=--client-min-messages=warning
ADMIN=${TIPSHEET_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
if [ -n "${TIPSHEET_BIN:-}" ]; then BIN=$TIPSHEET_BIN; else
  (cd "$repo" && cargo build --release --quiet); BIN=$repo/target/release/tipsheet; fi
W=$(mktemp -d); SERVER=
DB=tipsheet_bench_console
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
  psql "$ADMIN" -qAtc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
export TIPSHEET_SECRET=bench-secret-at-least-32-bytes-long
export TIPSHEET_ADMIN_TOKEN=bench-admin-token-at-least-32-bytes-long
PASSWORD="bench console password"

# site DIR [URL]: the shipped config and content, a two-line list.
site() {
  mkdir -p "$1/subscribers"; cp -r "$repo/content" "$1/content"
  cp "$repo/config.toml" "$1/config.toml"
  printf 'email,name\nana@example.com,Ana\n' > "$1/subscribers/subscribers.csv"
  printf 'email,reason,at\n' > "$1/subscribers/suppressed.csv"
  if [ -n "${2:-}" ]; then
    sed -i "s|^# url = \"postgres://tipsheet@127.0.0.1:5432/tipsheet\"|url = \"$2\"|" "$1/config.toml"
  fi
  echo "$PASSWORD" | "$BIN" --config "$1/config.toml" admin add bench --role publisher --password-stdin >/dev/null
}

# The twelve issues' rows as SQL statements on standard output (both engines
# read the same INSERTs; the recipients come from a series in the database).
fill_sql() {
  python3 - "$N" "$1" <<'PY'
import datetime, sys
n, engine = int(sys.argv[1]), sys.argv[2]
per = n // 12
# Real content, as the send renders the issue again before finishing it.
COMPARISONS = "associate-producer-vs-assistant-producer,data-analyst-vs-data-scientist,paralegal-vs-legal-assistant"
TIP = "send-a-follow-up-note-within-24-hours"
day = datetime.date(2026, 12, 1)
print("BEGIN;")
for i in range(12):
    slot = (day + datetime.timedelta(days=14 * i)).isoformat()
    print(f"INSERT INTO issues (slot, number, comparisons, tip, status, assembled_at, started_at, finished_at) "
          f"VALUES ('{slot}', {i + 1}, '{COMPARISONS}', '{TIP}', 'sending', '{slot}T13:00:00Z', '{slot}T14:00:00Z', NULL);")
    status = ("CASE WHEN g % 100 = 0 THEN 'bounced' WHEN g % 200 = 1 THEN 'failed' ELSE 'sent' END")
    if engine == "sqlite":
        series = f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {per}) SELECT g FROM s"
    else:
        series = f"SELECT g FROM generate_series(1, {per}) AS g"
    print(f"INSERT INTO recipients (slot, email, address, name, status, attempts, last_code, updated_at) "
          f"SELECT '{slot}', 'user' || g || '@example.com', 'user' || g || '@example.com', 'Reader', "
          f"{status}, 1, 250, '{slot}T14:30:00Z' FROM ({series}) AS t;")
    for kind, every in (("complaint", 2000), ("unsubscribe", 500), ("hard_bounce", 100)):
        print(f"INSERT INTO events (natural_key, kind, email, slot, source, reason, at, recorded_at) "
              f"SELECT '{slot}-{kind}-' || g, '{kind}', 'user' || g || '@example.com', '{slot}', 'bench', 'bench', "
              f"'{slot}T16:00:00Z', '{slot}T16:00:00Z' FROM ({series}) AS t WHERE g % {every} = 0;")
print("COMMIT;")
PY
}

# finish DIR: `tipsheet send --date` on each of the twelve issues.
finish() {
  local t0; t0=$(date +%s)
  for i in $(seq 0 11); do
    "$BIN" --config "$1/config.toml" --now 2027-05-05T12:00:00Z send --date \
      "$(date -d "2026-12-01 + $((14 * i)) days" +%F)" > "$W/send.out" 2>&1 \
      || { cat "$W/send.out" >&2; exit 1; }
  done
  echo "  twelve issues finished by \`send --date\` in $(( $(date +%s) - t0 ))s"
}

# measure NAME DIR: serve the site, sign in, fetch the dashboard RUNS times.
measure() {
  local name=$1 dir=$2
  "$BIN" --config "$dir/config.toml" --now 2027-05-05T12:00:00Z serve --listen 127.0.0.1:0 > "$W/serve.out" 2> "$W/serve.err" &
  SERVER=$!
  for _ in $(seq 100); do grep -q listening "$W/serve.out" 2>/dev/null && break; sleep 0.1; done
  local base; base=$(sed -n 's/^listening on //p' "$W/serve.out")
  local cookie
  cookie=$(curl -s -D - -o /dev/null --data-urlencode "name=bench" --data-urlencode "password=$PASSWORD" \
    "$base/admin/login" | sed -n 's/^set-cookie: \(__Host-tipsheet_session=[^;]*\);.*/\1/ip')
  [ -n "$cookie" ] || { echo "error: no session" >&2; cat "$W/serve.err" >&2; exit 1; }
  local times=()
  for _ in $(seq "$RUNS"); do
    times+=("$(curl -s -o "$W/page.html" -w '%{http_code} %{time_total}' -H "Cookie: $cookie" "$base/admin")")
  done
  # `/metrics` (a Prometheus scrape) and `tipsheet status`, five times each.
  local scrape=() status=()
  for _ in 1 2 3 4 5; do
    scrape+=("$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -H "Authorization: Bearer $TIPSHEET_ADMIN_TOKEN" "$base/metrics")")
    local t0; t0=$(date +%s%N)
    "$BIN" --config "$dir/config.toml" --now 2027-05-05T12:00:00Z status > /dev/null
    status+=("200 $(( ($(date +%s%N) - t0) / 1000 ))e-6")
  done
  grep -q 'Last twelve issues' "$W/page.html" || { echo "error: not the dashboard" >&2; exit 1; }
  grep -q '#12</a>' "$W/page.html" || { echo "error: issue 12 missing" >&2; exit 1; }
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
  printf '%s\n' "${times[@]}" | python3 -c "
import sys
rows = [l.split() for l in sys.stdin if l.strip()]
assert all(r[0] == '200' for r in rows), rows
ms = [float(r[1]) * 1000 for r in rows]
cold, warm = ms[0], sorted(ms[1:])
p = lambda q: warm[min(len(warm) - 1, int(q * len(warm)))]
print(f'$name: {$N:,} recipients over 12 issues: dashboard cold {cold:.0f} ms, then median {p(0.5):.1f} ms, p95 {p(0.95):.1f} ms ({len(warm)} runs)')
"
  for what in metrics status; do
    if [ $what = metrics ]; then printf '%s\n' "${scrape[@]}"; else printf '%s\n' "${status[@]}"; fi | python3 -c "
import sys
rows = [l.split() for l in sys.stdin if l.strip()]
assert all(r[0] == '200' for r in rows), rows
ms = sorted(float(r[1]) * 1000 for r in rows)
print(f'  $what: median {ms[len(ms) // 2]:.0f} ms (min {ms[0]:.0f}, max {ms[-1]:.0f}, 5 runs)')
"
  done
}

if [ "$ENGINE" = sqlite ] || [ "$ENGINE" = both ]; then
  site "$W/sqlite"
  t0=$(date +%s)
  fill_sql sqlite | python3 -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.stdin.read())" "$W/sqlite/state/tipsheet.sqlite3"
  echo "sqlite: ledger filled in $(( $(date +%s) - t0 ))s"
  finish "$W/sqlite"
  measure "sqlite, tallies kept by the sends" "$W/sqlite"
  python3 -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('DELETE FROM tallies'); c.commit()" "$W/sqlite/state/tipsheet.sqlite3"
  measure "sqlite, no tallies kept" "$W/sqlite"
fi
if [ "$ENGINE" = postgres ] || [ "$ENGINE" = both ]; then
  psql "$ADMIN" -qAtc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
  psql "$ADMIN" -qAtc "CREATE DATABASE $DB" >/dev/null
  url="${ADMIN%/*}/$DB"
  site "$W/postgres" "$url"
  t0=$(date +%s)
  fill_sql postgres | psql "$url" -q >/dev/null
  psql "$url" -qAtc "VACUUM ANALYZE" >/dev/null
  echo "postgres: store filled in $(( $(date +%s) - t0 ))s"
  finish "$W/postgres"
  psql "$url" -qAtc "VACUUM ANALYZE" >/dev/null
  measure "postgres, tallies kept by the sends" "$W/postgres"
  psql "$url" -qAtc "DELETE FROM tallies" >/dev/null
  measure "postgres, no tallies kept" "$W/postgres"
fi
