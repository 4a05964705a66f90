#!/usr/bin/env bash
# What the checks of SPEC §4 cost on the MX listener (issue 7): SMTP ingest throughput with every
# built-in filter on versus all off, same server, same load, runs interleaved. Goal: the filters
# cost at most 30 % of the throughput (ratio on/off >= 0.70).
#
#   bench/filters-cost.sh
#
# "On" is the default configuration minus what would refuse the load generator itself:
# greylisting (its first try is a 451 by design) and the rate limit (60 messages a minute per
# client). So on = attachments (RCV-5), SPF/DKIM/DMARC (RCV-2) and the spam score (RCV-4). DNS
# queries go to a tiny loopback responder that answers NXDOMAIN at once: what is measured is our
# own work (lookups, parsing, archive inspection, scoring, headers), not a resolver's latency,
# which a real deployment caches. (A resolver that does not answer at all costs the timeout of
# each lookup: `[dns] timeout`.)
#
# Environment: RUNS=3, N=2000 (messages per run), CONNS=16, SIZES="2048 102400",
#              POSTWERK_BIN (default target/release/postwerk, built if missing).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
RUNS="${RUNS:-3}"
N="${N:-2000}"
CONNS="${CONNS:-16}"
SIZES="${SIZES:-2048 102400}"
TO="bench@example.test"
STAMP="$(date -u +%Y%m%d-%H%M%S)"
RAW="$HERE/results/filters-cost-$STAMP.txt"
WORK="$(mktemp -d /tmp/filters-cost.XXXXXX)"
mkdir -p "$HERE/results"
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

cargo build --release --quiet --manifest-path "$HERE/smtp-load/Cargo.toml"
LOAD="$HERE/smtp-load/target/release/smtp-load"
POSTWERK_BIN="${POSTWERK_BIN:-$ROOT/target/release/postwerk}"
[ -x "$POSTWERK_BIN" ] || (cd "$ROOT" && cargo build --release --quiet -p postwerk)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A DNS responder on a loopback UDP port answering every query NXDOMAIN (RFC 1035 4.1.1: the
# query sent back with QR, RA and RCODE 3, no records); writes its port to a file, then serves.
DNS_PORT_FILE="$WORK/dns.port"
python3 "$HERE/nxdomain-dns.py" "$DNS_PORT_FILE" &
DNS_PID=$!
trap 'kill "$DNS_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do [ -s "$DNS_PORT_FILE" ] && break; sleep 0.1; done
DNS_PORT="$(cat "$DNS_PORT_FILE")"

# The filter tables of each mode.
filters_on() { printf '[greylist]\nenabled = false\n[rate]\nenabled = false\n'; }
filters_off() {
  printf '[greylist]\nenabled = false\n[rate]\nenabled = false\n[attachments]\nenabled = false\n'
  printf '[auth]\nenabled = false\n[spam]\nenabled = false\n'
}

run() { # mode size label
  local dir="$WORK/$3" port
  rm -rf "$dir"; mkdir -p "$dir/data"
  port="$(free_port)"
  {
    printf 'hostname = "mail.example.test"\ndata_dir = "%s/data"\n' "$dir"
    printf '[listen]\nsmtp = "127.0.0.1:%s"\n' "$port"
    printf '[dns]\nservers = ["127.0.0.1:%s"]\ndnssec = "off"\n' "$DNS_PORT"
    "filters_$1"
  } > "$dir/postwerk.toml"
  local admin=("$POSTWERK_BIN" admin --config "$dir/postwerk.toml")
  "${admin[@]}" org create Bench > "$dir/admin.log" 2>&1
  "${admin[@]}" service create example.test --org Bench >> "$dir/admin.log" 2>&1
  "${admin[@]}" address create "$TO" --password bench-password-1 >> "$dir/admin.log" 2>&1
  "$POSTWERK_BIN" serve --config "$dir/postwerk.toml" > "$dir/serve.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 150); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),timeout=1)" 2>/dev/null && break
    sleep 0.2
  done
  sync
  "$LOAD" --port "$port" --to "$TO" -s "$2" -c "$CONNS" -n "$N" --label "$3" | grep '^RESULT' >> "$RAW" \
    || log "no result for $3 (see $dir/serve.log)"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}

echo "# filters-cost $STAMP, $(nproc) cores, RUNS=$RUNS N=$N CONNS=$CONNS, $POSTWERK_BIN" > "$RAW"
for r in $(seq 1 "$RUNS"); do
  for size in $SIZES; do
    for mode in off on; do
      log "run $r/$RUNS: $size octets, filters $mode"
      run "$mode" "$size" "$mode/$size/$r"
      tail -1 "$RAW" >&2
    done
  done
done

python3 - "$RAW" <<'EOF' | tee "${RAW%.txt}.md"
import statistics, sys
rates = {}
for line in open(sys.argv[1]):
    if line.startswith("RESULT "):
        kv = dict(p.split("=", 1) for p in line.split()[1:])
        mode, size, _ = kv["label"].split("/")
        if int(kv.get("errors", "0")) == 0:
            rates.setdefault((int(size), mode), []).append(float(kv["ack_rate"]))
print("| size | filters off msg/s | filters on msg/s | ratio on/off | goal >= 0.70 |")
print("|---|---|---|---|---|")
for size in sorted({s for s, _ in rates}):
    off = statistics.median(rates.get((size, "off"), [0]))
    on = statistics.median(rates.get((size, "on"), [0]))
    ratio = on / off if off else 0
    print(f"| {size // 1024} KB | {off:.0f} | {on:.0f} | {ratio:.2f} | {'met' if ratio >= 0.70 else 'not met'} |")
EOF
