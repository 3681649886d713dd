#!/usr/bin/env bash
# Usage: bench/web.sh [READERS=1000000] [SUPPRESSED=100000] [SECONDS=10] [CONNECTIONS=32]
# `tipsheet serve` at list scale beside nginx, in one run on one machine, on
# both engines: a site of READERS readers of whom SUPPRESSED are suppressed,
# with issue #1 frozen for every active reader (a send to a relay that refuses
# connections, max_attempts = 1: the ledger holds READERS - SUPPRESSED
# recipients, nothing is mailed). For each engine (embedded; PostgreSQL at
# TIPSHEET_TEST_POSTGRES, default postgres://postgres@127.0.0.1:5432/test, in
# a fresh database dropped afterwards), with wrk:
#  - one-click unsubscribes (RFC 8058 POSTs, each to a distinct reader's valid
#    link, tokens computed as SECURITY.md documents) from 1 connection, then
#    from CONNECTIONS: req/s and p99; afterwards the suppressions are counted
#    (each answered unsubscribe must have landed);
#  - the archive page /issues/1 from CONNECTIONS: req/s and p99, then nginx
#    (started here on loopback with a temporary config) serving the same
#    bytes saved as a file, measured right after it.
# Prints a Markdown table. Needs wrk and nginx (apt-get install wrk
# nginx-light), python3 and psql. TIPSHEET_BIN=PATH measures that binary
# instead of building one; THREADS (default 2) sets wrk's threads.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); repo=$(dirname "$here")
N=${1:-1000000} S=${2:-100000} DUR=${3:-10} C=${4:-32}
THREADS=${THREADS:-2}
ADMIN=${TIPSHEET_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
export PGOPTIONS=--client-min-messages=warning
for tool in wrk nginx python3 psql; do
  command -v "$tool" >/dev/null || { echo "bench/web.sh needs $tool (apt-get install wrk nginx-light postgresql-client)" >&2; exit 1; }
done
if [ -n "${TIPSHEET_BIN:-}" ]; then BIN=$TIPSHEET_BIN; else
  (cd "$repo" && cargo build --release --quiet); BIN=$repo/target/release/tipsheet; fi
W=$(mktemp -d); PIDS=(); DB=tipsheet_bench_web_$$
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  psql "$ADMIN" -qAtc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
export TIPSHEET_SECRET=bench-secret-at-least-32-bytes-long
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
REFUSED=$(free_port) # nothing listens there: the send freezes, then stops

# The list, the suppressions, and the unsubscribe links of active readers:
# the first fifth (at most 100,000) for the single connection, the rest for the crowd.
python3 - "$N" "$S" "$W" <<'PY'
import hashlib, hmac, os, sys, urllib.parse
n, s, w = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
secret = os.environ["TIPSHEET_SECRET"].encode()
with open(f"{w}/subscribers.csv", "w") as f:
    f.write("email,name,subscribed_at\n")
    for i in range(1, n + 1):
        f.write(f"user{i:07d}@example.com,Reader {i},2026-01-01T00:00:00Z\n")
with open(f"{w}/suppressed.csv", "w") as f:
    f.write("email,reason,at\n")
    for i in range(1, s + 1):
        f.write(f"user{i:07d}@example.com,unsubscribed,2026-06-01T00:00:00Z\n")
with open(f"{w}/urls.txt", "w") as f:
    for i in range(s + 1, n + 1):
        e = f"user{i:07d}@example.com"
        # SECURITY.md: HMAC-SHA256(secret, "unsubscribe" NUL address), 128 bits in hex.
        t = hmac.new(secret, b"unsubscribe\0" + e.encode(), hashlib.sha256).hexdigest()[:32]
        f.write(f"/unsubscribe?e={urllib.parse.quote(e, safe='')}&t={t}\n")
PY
URLS=$((N - S)); ALONE=$((URLS / 5 < 100000 ? URLS / 5 : 100000))
cat > "$W/unsubscribe.lua" <<'LUA'
-- Each thread takes every THREADS-th link from FROM on: no link is clicked twice.
local counter = 0
function setup(thread) thread:set("id", counter); counter = counter + 1 end
function init(args)
  local step = tonumber(os.getenv("WRK_THREADS")); local from = tonumber(os.getenv("WRK_FROM"))
  local to = tonumber(os.getenv("WRK_TO")); links = {}; n = 0; local i = 0
  for line in io.lines(os.getenv("WRK_URLS")) do
    if i >= from and i < to and (i - from) % step == id then links[#links + 1] = line end
    i = i + 1
  end
end
function request()
  n = n + 1
  if n > #links then wrapped = true end
  return wrk.format("POST", links[((n - 1) % #links) + 1],
    {["Content-Type"] = "application/x-www-form-urlencoded"}, "List-Unsubscribe=One-Click")
end
LUA
cat > "$W/report.lua" <<'LUA'
function done(summary, latency, requests)
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %d %.3f %.2f %.2f %d\n", summary.requests,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000, bad))
end
LUA
cat "$W/report.lua" >> "$W/unsubscribe.lua"

# wrk_run NAME URL [LUA FROM TO CONNECTIONS THREADS]: "requests rate p50 p99 errors".
wrk_run() {
  local conns=${6:-$C} threads=${7:-$THREADS} out
  out=$(WRK_URLS="$W/urls.txt" WRK_FROM=${4:-0} WRK_TO=${5:-0} WRK_THREADS=$threads \
        wrk -t"$threads" -c"$conns" -d"${DUR}s" --timeout 10s -s "${3:-$W/report.lua}" "$2")
  echo "$out" > "$W/wrk-$1.txt"
  grep '^RESULT' <<<"$out" | awk '{printf "%d %.0f %s %s %d\n", $2, $2/$3, $4, $5, $6}'
}

# site NAME [URL]: a config (SMTP to the refusing port, one attempt), content.
site() {
  local d=$W/$1; mkdir -p "$d"; cp -r "$repo/content" "$d/content"
  sed -e 's/^transport = "outbox"/transport = "smtp"/' \
      -e "s/^port = 2525/port = $REFUSED/" \
      -e 's/^max_attempts = 5/max_attempts = 1/' \
      -e 's#^path = "subscribers/subscribers.csv"#path = "subscribers.csv"#' \
      -e 's#^suppressed_path = "subscribers/suppressed.csv"#suppressed_path = "suppressed.csv"#' \
      "$repo/config.toml" > "$d/config.toml"
  if [ -n "${2:-}" ]; then
    sed -i "s|^# url = \"postgres://tipsheet@127.0.0.1:5432/tipsheet\"|url = \"$2\"|" "$d/config.toml"
  fi
}

# serve NAME PORT: starts `serve`, waits until it listens.
serve() {
  "$BIN" --config "$W/$1/config.toml" serve --listen "127.0.0.1:$2" > "$W/$1/serve.out" 2> "$W/$1/serve.err" &
  PIDS+=("$!")
  for _ in $(seq 600); do grep -q '^listening on' "$W/$1/serve.out" && return 0; sleep 0.1; done
  cat "$W/$1/serve.err" >&2; exit 1
}

# suppressions NAME: how many the engine holds now.
suppressions() {
  if [ "$1" = embedded ]; then tail -n +2 "$W/embedded/suppressed.csv" | wc -l
  else psql "${ADMIN%/*}/$DB" -qAtc "SELECT count(*) FROM suppressions"; fi
}

# nginx serving $W/www on PORT (the page tipsheet served, saved as a file).
NGINX_PORT=$(free_port)
mkdir -p "$W/www/issues" "$W/nginx"
chmod 711 "$W"; chmod -R a+rX "$W/www"
cat > "$W/nginx/nginx.conf" <<NGINX
worker_processes auto;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off; sendfile on; tcp_nopush on; tcp_nodelay on; keepalive_requests 1000000;
  default_type text/html;
  client_body_temp_path $W/nginx/body; proxy_temp_path $W/nginx/proxy;
  fastcgi_temp_path $W/nginx/fastcgi; uwsgi_temp_path $W/nginx/uwsgi; scgi_temp_path $W/nginx/scgi;
  server { listen 127.0.0.1:$NGINX_PORT; root $W/www; }
}
NGINX

ROWS=()
for engine in embedded postgresql; do
  if [ "$engine" = embedded ]; then
    site embedded
    mv "$W/subscribers.csv" "$W/suppressed.csv" "$W/embedded/"
  else
    psql "$ADMIN" -qAtc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
    psql "$ADMIN" -qAtc "CREATE DATABASE $DB" >/dev/null
    site postgresql "${ADMIN%/*}/$DB"
    # The embedded run appended to its copy: start again from the generated list.
    head -n $((S + 1)) "$W/embedded/suppressed.csv" > "$W/postgresql/suppressed.csv"
    (cd "$W/postgresql" && "$BIN" --config config.toml subscribers import "$W/embedded/subscribers.csv" --suppressed suppressed.csv > import.out)
  fi
  # Freeze issue #1 for every active reader; the relay refuses, so it stops there.
  (cd "$W/$engine" && "$BIN" --config config.toml --now 2026-12-01T14:00:00Z send > send.out 2> send.err) || true
  frozen=$(cd "$W/$engine" && "$BIN" --config config.toml status 2>/dev/null | grep '^#1 ' || true)
  echo "$engine: ${frozen:-nothing frozen: $(tail -1 "$W/$engine/send.err")}" >&2
  port=$(free_port); serve "$engine" "$port"
  base=http://127.0.0.1:$port
  first=$(sed -n 1p "$W/urls.txt")
  curl -fsS "$base$first" | grep -q '<form method="post"' || { echo "$engine: the computed unsubscribe link is refused" >&2; exit 1; }
  before=$(suppressions "$engine")
  read -r a_n a_rate a_p50 a_p99 a_err < <(wrk_run "$engine-alone" "$base/unsubscribe" "$W/unsubscribe.lua" 0 "$ALONE" 1 1)
  read -r u_n u_rate u_p50 u_p99 u_err < <(wrk_run "$engine-unsub" "$base/unsubscribe" "$W/unsubscribe.lua" "$ALONE" "$URLS")
  sleep 1 # requests wrk gave up on at its deadline finish
  landed=$(( $(suppressions "$engine") - before ))
  answered=$(( a_n + u_n - a_err - u_err ))
  if [ "$a_n" -gt "$ALONE" ] || [ "$u_n" -gt $((URLS - ALONE)) ]; then
    echo "$engine: more requests than links; some were clicked twice" >&2
  fi
  curl -fsS "$base/issues/1" -o "$W/www/issues/1"; chmod a+r "$W/www/issues/1"
  read -r p_n p_rate p_p50 p_p99 p_err < <(wrk_run "$engine-archive" "$base/issues/1")
  nginx -c "$W/nginx/nginx.conf" -g 'daemon off;' 2> "$W/nginx/stderr" & PIDS+=("$!")
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$NGINX_PORT/issues/1" -o "$W/nginx.page" 2>/dev/null && break; sleep 0.1; done
  cmp -s "$W/nginx.page" "$W/www/issues/1" || { echo "nginx does not serve the same page" >&2; exit 1; }
  read -r x_n x_rate x_p50 x_p99 x_err < <(wrk_run "$engine-nginx" "http://127.0.0.1:$NGINX_PORT/issues/1")
  kill "$(cat "$W/nginx/nginx.pid")"; wait "${PIDS[-1]}" 2>/dev/null || true; unset 'PIDS[-1]'
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true; unset 'PIDS[-1]'
  ratio=$(awk -v a="$p_rate" -v b="$x_rate" 'BEGIN{printf "%.2f", a/b}')
  size=$(wc -c < "$W/www/issues/1")
  ROWS+=("| $engine | $a_rate/s, p50 $a_p50 ms | $u_rate/s, p99 $u_p99 ms | $answered answered, $landed landed | $p_rate/s, p99 $p_p99 ms | $x_rate/s, p99 $x_p99 ms | $ratio | $((p_err + u_err + a_err + x_err)) |")
  echo "$engine: page $size B; errors: unsubscribe $a_err+$u_err, archive $p_err, nginx $x_err" >&2
  if [ "$landed" -lt "$answered" ]; then
    echo "$engine: only $landed of $answered answered unsubscribes landed" >&2
  fi
done
echo
echo "$N readers, $S suppressed, issue #1 frozen for $((N - S)); wrk -t$THREADS, $DUR s per measure; unsubscribes from 1 connection, then $C; archive from $C"
echo
echo "| engine | one-click unsubscribe, 1 connection | one-click unsubscribe, $C connections | unsubscribes | archive /issues/1 (tipsheet) | same page, nginx | tipsheet / nginx | errors |"
echo "|---|---:|---:|---|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
