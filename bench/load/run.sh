#!/usr/bin/env bash
# Load and exhaustion (issue 10 item 3): IMAP_CONNS concurrent IMAP sessions held open (each a
# NOOP every NOOP_EVERY s) plus SMTP load from SMTP_THREADS senders, for SECONDS, against the
# release build; the server's memory is sampled every SAMPLE_EVERY s. Prints the figures and a
# RESULT line; docs/RELIABILITY.md ("Load") has the latest.
#
#   bench/load/run.sh [SECONDS]            # default 600 (10 minutes)
#
# Environment: IMAP_CONNS=5000 SMTP_THREADS=4 MAILBOXES=50 SOURCES=50 NOOP_EVERY=30 CLIENTS=4
#   SAMPLE_EVERY=10 POSTWERK_BIN=target/release/postwerk (built when missing; BUILD=1 rebuilds)
#
# The sessions come from SOURCES loopback addresses (127.0.0.1 …), 100 each by default, so the
# per-address limit (imap.max_connections_per_address, 200) is met as a population of clients
# would meet it. Needs a high open-file limit for both processes (raised here; root can).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SECONDS_TO_RUN="${1:-600}"
IMAP_CONNS="${IMAP_CONNS:-5000}"
SMTP_THREADS="${SMTP_THREADS:-4}"
MAILBOXES="${MAILBOXES:-50}"
SOURCES="${SOURCES:-50}"
NOOP_EVERY="${NOOP_EVERY:-30}"
SAMPLE_EVERY="${SAMPLE_EVERY:-10}"
CLIENTS="${CLIENTS:-4}"
BIN="${POSTWERK_BIN:-$ROOT/target/release/postwerk}"
WORK="$(mktemp -d /tmp/load-run.XXXXXX)"
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "${BUILD:-0}" = 1 ] || [ ! -x "$BIN" ]; then
  log "building postwerk (release)"
  (cd "$ROOT" && cargo build --release --quiet -p postwerk)
fi

# A DNS responder answering NXDOMAIN at once: no check waits on a resolver.
python3 "$HERE/../nxdomain-dns.py" "$WORK/dns.port" &
DNS_PID=$!
for _ in $(seq 1 50); do [ -s "$WORK/dns.port" ] && break; sleep 0.1; done
SMTP_PORT="$(free_port)"
IMAPS_PORT="$(free_port)"
{
  printf 'hostname = "mail.example.test"\ndata_dir = "%s/data"\n' "$WORK"
  printf '[listen]\nsmtp = "127.0.0.1:%s"\nimaps = "127.0.0.1:%s"\n' "$SMTP_PORT" "$IMAPS_PORT"
  printf '[dns]\nservers = ["127.0.0.1:%s"]\ndnssec = "off"\n' "$(cat "$WORK/dns.port")"
  # The MX checks stay on except greylisting (every sender would wait) and the rate limits
  # (one client address sends everything).
  printf '[greylist]\nenabled = false\n[rate]\nenabled = false\n'
} > "$WORK/postwerk.toml"
admin=("$BIN" admin --config "$WORK/postwerk.toml")
{
  "${admin[@]}" org create Load
  "${admin[@]}" service create example.test --org Load --quota 1000
  for n in $(seq 0 $((MAILBOXES - 1))); do
    "${admin[@]}" address create "load$n@example.test" --password load-password-1
  done
} > "$WORK/admin.log" 2>&1 || { cat "$WORK/admin.log" >&2; exit 1; }

"$BIN" serve --config "$WORK/postwerk.toml" > "$WORK/serve.log" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; kill $DNS_PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  [ -s "$WORK/data/run/listeners.json" ] && break
  sleep 0.1
done
log "postwerk pid $PID; $IMAP_CONNS IMAP sessions + $SMTP_THREADS SMTP senders for ${SECONDS_TO_RUN}s; work folder $WORK"

args=$(printf '{"host":"127.0.0.1","smtp_port":%s,"imaps_port":%s,"pid":%s,"seconds":%s,"imap_conns":%s,"smtp_threads":%s,"mailboxes":%s,"sources":%s,"noop_every":%s,"sample_every":%s,"client_processes":%s,"password":"load-password-1"}' \
  "$SMTP_PORT" "$IMAPS_PORT" "$PID" "$SECONDS_TO_RUN" "$IMAP_CONNS" "$SMTP_THREADS" "$MAILBOXES" "$SOURCES" "$NOOP_EVERY" "$SAMPLE_EVERY" "$CLIENTS")
python3 "$HERE/load.py" "$args" > "$WORK/figures.json"

python3 - "$WORK/figures.json" "$IMAP_CONNS" <<'EOF'
import json, sys
figures = json.load(open(sys.argv[1]))
target = int(sys.argv[2])
counts, errors, memory = figures["counts"], figures["errors"], figures["memory"]
print("time  imap-sessions-open  smtp-accepted  RSS MiB  threads")
for s in memory:
    print(f"{s['t']:>4}  {s['imap_up']:>18}  {s['smtp_accepted']:>13}  {s['VmRSS'] / 1024:>7.1f}  {s['Threads']:>7}")
# Flat memory: the last third's mean RSS against the middle third's, from the first sample
# with every session up (a count that overshoots for a moment must not shrink the phase).
up = [i for i, s in enumerate(memory) if s["imap_up"] >= target]
steady = memory[up[0]:] if up else memory
third = max(1, len(steady) // 3)
middle = steady[third:2 * third] or steady
last = steady[-third:]
mean = lambda xs: sum(s["VmRSS"] for s in xs) / len(xs) / 1024
growth = mean(last) / mean(middle) - 1 if middle else 0
print(f"errors: {json.dumps(errors, indent=1) if errors else 'none'}")
if up:
    print(f"all {target} sessions up from {memory[up[0]]['t']} s to {memory[-1]['t']} s")
print(f"RESULT imap_sessions={counts.get('imap_sessions_up', 0)} max_open={max(s['imap_up'] for s in memory)} completed={counts.get('imap_sessions_completed', 0)} "
      f"noops={counts.get('imap_noops', 0)} smtp_accepted={counts.get('smtp_accepted', 0)} "
      f"errors={sum(errors.values())} rss_mib_middle={mean(middle):.1f} rss_mib_last={mean(last):.1f} "
      f"growth={growth * 100:+.1f}% peak_mib={max(s['VmHWM'] for s in memory) / 1024:.1f}")
EOF
log "work folder $WORK (serve.log, figures.json)"
