#!/usr/bin/env bash
# Checks the unit files with `systemd-analyze verify`, which wants each
# ExecStart binary to exist: a copy of the units pointing at BINARY (default:
# the debug build) is verified, the shipped files stay as they are.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
binary="$(realpath "${1:-$here/../../target/debug/tipsheet}")"
[ -x "$binary" ] || { echo "error: \`$binary\` is not an executable; build tipsheet first (cargo build)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for unit in "$here"/*.service "$here"/*.timer; do
  sed "s#/usr/local/bin/tipsheet#$binary#" "$unit" > "$tmp/$(basename "$unit")"
done
# Any warning is a failure: verify prints them on stderr and may still exit 0.
out="$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$tmp"/*.service "$tmp"/*.timer 2>&1)" || { echo "$out" >&2; exit 1; }
if [ -n "$out" ]; then echo "$out" >&2; exit 1; fi
echo "systemd-analyze verify: $(ls "$here"/*.service "$here"/*.timer | wc -l) unit files ok"
