#!/usr/bin/env bash
# Bulk creation benchmark (issue 8, ADDR-3): 10,000 addresses from one CSV file through
# `postwerk admin address import`, on a fresh data folder; wall time and peak memory (the
# largest resident set of the process, from GNU time). See bench/README.md.
#
#   bench/bulk-csv.sh
#
# Environment:
#   N=10000                 lines in the file
#   PASSWORDS=generated     generated: empty password column (each one generated, hashed and
#                           returned once); chosen: a password on every line
#   POSTWERK_BIN=...        default: target/release/postwerk, built if missing
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
N="${N:-10000}"
PASSWORDS="${PASSWORDS:-generated}"
BIN="${POSTWERK_BIN:-$ROOT/target/release/postwerk}"
if [ ! -x "$BIN" ]; then
  (cd "$ROOT" && cargo build --release --locked -p postwerk)
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
DATA="$WORK/data"
admin() { "$BIN" admin --data-dir "$DATA" "$@" >/dev/null; }
admin org create Bench
admin service create bench.test --org Bench --quota "$((N + 10))"
admin user create owner@outside.test --password 'owner-password-42' --org Bench --role owner

CSV="$WORK/people.csv"
{
  echo "address,password,display_name,users,aliases"
  for i in $(seq 1 "$N"); do
    case "$PASSWORDS" in
      chosen) password="chosen-password-$i" ;;
      *) password="" ;;
    esac
    # Every tenth line is linked to the owner and has an alias, as a real import would.
    if [ $((i % 10)) -eq 0 ]; then
      echo "user$i,$password,User $i,owner@outside.test,alias$i"
    else
      echo "user$i,$password,User $i,,"
    fi
  done
} >"$CSV"

STATS="$WORK/time.txt"
/usr/bin/time -v -o "$STATS" "$BIN" admin --data-dir "$DATA" address import bench.test "$CSV" \
  --result "$WORK/result.csv" >/dev/null
created=$(grep -c ',created' "$WORK/result.csv" || true)
wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$STATS")
rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$STATS")
cpu_user=$(sed -n 's/.*User time (seconds): //p' "$STATS")
cpu_sys=$(sed -n 's/.*System time (seconds): //p' "$STATS")
db=$(du -sk "$DATA" | cut -f1)

STAMP="$(date -u +%Y%m%d-%H%M%S)"
OUT="$HERE/results/bulk-csv-$STAMP.txt"
mkdir -p "$HERE/results"
{
  echo "RESULT lines=$N passwords=$PASSWORDS created=$created wall=$wall user_s=$cpu_user sys_s=$cpu_sys max_rss_kb=$rss data_kb=$db cores=$(nproc)"
} | tee "$OUT"
