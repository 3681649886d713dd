#!/usr/bin/env bash
# Usage: bench/dry-run.sh [N=10000] [RUNS=3]
# Times `tipsheet send --dry-run` (every complete MIME message built, none
# delivered) for N generated subscribers on the shipped content, RUNS times,
# and prints the median rate and peak RSS. Compare with
# ../shared/bench/mailmerge_peer.sh in the same session (its dry-run line).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); repo=$(dirname "$here")
N=${1:-10000} RUNS=${2:-3}
(cd "$repo" && cargo build --release --quiet)
BIN=$repo/target/release/tipsheet
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
cp -r "$repo/content" "$W/content"
python3 - "$N" > "$W/subscribers.csv" <<'PY'
import sys
n = int(sys.argv[1])
print("email,name,subscribed_at")
for i in range(1, n + 1):
    print(f"user{i:06d}@example.com,Reader {i},2026-01-01")
PY
printf 'email,reason,at\n' > "$W/suppressed.csv"
sed -e 's#^path = "subscribers/subscribers.csv"#path = "subscribers.csv"#' \
    -e 's#^suppressed_path = "subscribers/suppressed.csv"#suppressed_path = "suppressed.csv"#' \
    "$repo/config.toml" > "$W/config.toml"
export TIPSHEET_SECRET=bench-secret-at-least-32-bytes-long
rates=(); rss=0
for run in $(seq "$RUNS"); do
  out=$( { /usr/bin/time -v "$BIN" --config "$W/config.toml" send --dry-run 2>&1; } )
  rate=$(grep -oE '= [0-9]+ msgs/s' <<<"$out" | grep -oE '[0-9]+')
  size=$(grep -oE '\([0-9]+ KB average\)' <<<"$out" | grep -oE '[0-9]+')
  kb=$(grep 'Maximum resident set size' <<<"$out" | grep -oE '[0-9]+$')
  ((kb > rss)) && rss=$kb
  echo "run $run: $rate msgs/s (${size} KB messages), peak RSS $((kb/1024)) MB" >&2
  rates+=("$rate")
done
med=$(printf '%s\n' "${rates[@]}" | sort -g | awk '{r[NR]=$1} END{print r[int((NR+1)/2)]}')
echo "tipsheet send --dry-run: $N msgs, median $med msgs/s (runs: ${rates[*]}), peak RSS $((rss/1024)) MB"
