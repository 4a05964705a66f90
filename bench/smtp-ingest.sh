#!/usr/bin/env bash
# SMTP ingest benchmark (issue 3): Postwerk against Postfix delivering into Dovecot over LMTP,
# both on loopback. See bench/README.md for what is measured and how to read it.
#
#   bench/smtp-ingest.sh [all|peer|postwerk]        (default: all)
#
# Matrix: 2 KB and 100 KB messages x 1 and 16 connections, RUNS times each, servers interleaved
# (cell by cell) so that both see the same disk weather. Every run starts on an empty mailbox.
# Results: bench/results/smtp-ingest-<time>.txt (raw RESULT lines) and .md (median table).
#
# Environment:
#   RUNS=3                      runs per cell
#   N_2K_1=1000 N_2K_16=4000    messages per run, per cell
#   N_100K_1=400 N_100K_16=1500
#   CELLS="2048/1 2048/16 102400/1 102400/16"   the cells to run (size/connections), default all
#   PER_CONNECTION=1000         messages per SMTP connection before QUIT and reconnect
#   POSTWERK_BIN=...            default: target/release/postwerk, built if missing
#   PEER_DIR=/work/shared/peers/postfix-dovecot   BASELINE_STATE=/var/lib/postfix-dovecot-peer
#   PEER_TO=alice@example.test  an account of the peer's accounts.json
#   KEEP_PEER=1                 leave the peer running at the end (default: stop it if this
#                               script started it)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
WHICH="${1:-all}"
case "$WHICH" in all|peer|postwerk) ;; *) echo "usage: $0 [all|peer|postwerk]" >&2; exit 2 ;; esac

RUNS="${RUNS:-3}"
N_2K_1="${N_2K_1:-1000}"
N_2K_16="${N_2K_16:-4000}"
N_100K_1="${N_100K_1:-400}"
N_100K_16="${N_100K_16:-1500}"
CELLS="${CELLS:-2048/1 2048/16 102400/1 102400/16}"
PER_CONNECTION="${PER_CONNECTION:-1000}"
PEER_DIR="${PEER_DIR:-/work/shared/peers/postfix-dovecot}"
STATE="${BASELINE_STATE:-/var/lib/postfix-dovecot-peer}"
PEER_TO="${PEER_TO:-alice@example.test}"
PEER_MAILDIR="$STATE/mail/${PEER_TO#*@}/${PEER_TO%@*}/Maildir"
PW_TO="bench@example.test"
PW_PASSWORD="bench-password-1"

STAMP="$(date -u +%Y%m%d-%H%M%S)"
RESULTS="$HERE/results"
RAW="$RESULTS/smtp-ingest-$STAMP.txt"
SUMMARY="$RESULTS/smtp-ingest-$STAMP.md"
WORK="$(mktemp -d /tmp/smtp-ingest.XXXXXX)"
mkdir -p "$RESULTS"

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() { log "error: $*"; exit 1; }

# --- tools --------------------------------------------------------------------------------
log "building smtp-load"
cargo build --release --quiet --manifest-path "$HERE/smtp-load/Cargo.toml"
LOAD="$HERE/smtp-load/target/release/smtp-load"

if [ "$WHICH" != peer ]; then
  POSTWERK_BIN="${POSTWERK_BIN:-$ROOT/target/release/postwerk}"
  if [ ! -x "$POSTWERK_BIN" ]; then
    log "building postwerk (release)"
    (cd "$ROOT" && cargo build --release --quiet -p postwerk)
  fi
fi

# A free loopback TCP port (bound then released; nothing else on this machine races for it).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits until HOST:PORT greets with 220.
wait_smtp() {
  local port="$1"
  for _ in $(seq 1 150); do
    if python3 - "$port" <<'EOF' 2>/dev/null; then return 0; fi
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
ok = s.recv(512).startswith(b"220")
s.sendall(b"QUIT\r\n")
sys.exit(0 if ok else 1)
EOF
    sleep 0.2
  done
  return 1
}

# --- the peer: Postfix -> LMTP -> Dovecot --------------------------------------------------
STARTED_PEER=0
PW_PID=""
cleanup() {
  if [ -n "$PW_PID" ]; then kill -TERM "$PW_PID" 2>/dev/null || true; wait "$PW_PID" 2>/dev/null || true; fi
  if [ "$STARTED_PEER" = 1 ] && [ "${KEEP_PEER:-0}" != 1 ]; then
    log "stopping the peer"
    "$PEER_DIR/stop" >> "$WORK/peer.log" 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

peer_ensure() {
  if ! ss -Hltn 'sport = :25' | grep -q .; then
    log "starting the peer (log: $WORK/peer.log)"
    # Never pipe ./start: the Postfix master would keep the pipe open (see its README).
    "$PEER_DIR/start" > "$WORK/peer.log" 2>&1 || { cat "$WORK/peer.log" >&2; die "peer did not start"; }
    STARTED_PEER=1
  fi
  wait_smtp 25 || die "nothing greets on 127.0.0.1:25"
}

# Empty queue, empty mailbox: every run starts from the same state.
peer_reset() {
  local i
  for i in $(seq 1 600); do
    postqueue -c "$STATE/etc/postfix" -p 2>/dev/null | grep -q "Mail queue is empty" && break
    [ "$i" = 600 ] && die "the peer's queue did not drain"
    sleep 0.2
  done
  doveadm -c "$STATE/etc/dovecot/dovecot.conf" expunge -u "$PEER_TO" mailbox INBOX all 2>/dev/null || true
  # Dovecot's expunge leaves the files of messages it never indexed; remove what is left.
  find "$PEER_MAILDIR/new" "$PEER_MAILDIR/cur" -type f -delete 2>/dev/null || true
  sync
}

peer_run() { # size conns n label
  peer_reset
  "$LOAD" --port 25 --to "$PEER_TO" -s "$1" -c "$2" -n "$3" --per-connection "$PER_CONNECTION" \
    --maildir "$PEER_MAILDIR" --label "$4" | tee -a "$WORK/load.log" | grep '^RESULT' >> "$RAW" \
    || log "no result for $4 (see $WORK/load.log)"
}

# --- Postwerk ------------------------------------------------------------------------------
# A fresh server per run: temp data folder, only the smtp listener, the bench mailbox.
postwerk_start() {
  local dir="$WORK/postwerk-${1//\//-}" port
  rm -rf "$dir"; mkdir -p "$dir/data"
  port="$(free_port)"
  cat > "$dir/postwerk.toml" <<EOF
hostname = "mail.example.test"
data_dir = "$dir/data"

[listen]
smtp = "127.0.0.1:$port"

# Throughput is measured, not abuse: the per-client limit (RCV-8) would refuse the load
# generator after 60 messages, and the peer has no such limit either.
[rate]
enabled = false

# Like for like: the peer runs no checks on content (no greylisting, SPF/DKIM/DMARC, spam
# score or attachment rules), so neither does Postwerk here. What the checks cost is measured
# by filters-cost.sh. Greylisting on would answer every first try 451.
[greylist]
enabled = false
[attachments]
enabled = false
[auth]
enabled = false
[spam]
enabled = false
EOF
  local admin=("$POSTWERK_BIN" admin --config "$dir/postwerk.toml")
  "${admin[@]}" org create Bench > "$dir/admin.log" 2>&1
  "${admin[@]}" service create example.test --org Bench >> "$dir/admin.log" 2>&1
  "${admin[@]}" address create "$PW_TO" --password "$PW_PASSWORD" >> "$dir/admin.log" 2>&1 \
    || { cat "$dir/admin.log" >&2; die "postwerk admin failed"; }
  "$POSTWERK_BIN" serve --config "$dir/postwerk.toml" > "$dir/serve.log" 2>&1 &
  PW_PID=$!
  PW_PORT="$port"; PW_DIR="$dir"
  wait_smtp "$port" || { tail -20 "$dir/serve.log" >&2; die "postwerk did not answer SMTP on $port"; }
}

postwerk_stop() {
  kill -TERM "$PW_PID" 2>/dev/null || true
  wait "$PW_PID" 2>/dev/null || true
  PW_PID=""
}

postwerk_run() { # size conns n label
  postwerk_start "$4"
  sync
  "$LOAD" --port "$PW_PORT" --to "$PW_TO" -s "$1" -c "$2" -n "$3" --per-connection "$PER_CONNECTION" \
    --label "$4" | tee -a "$WORK/load.log" | grep '^RESULT' > "$WORK/result" \
    || log "no result for $4 (see $PW_DIR/serve.log)"
  postwerk_stop
  # Check the acknowledged messages really are in the store.
  local stored
  stored="$(sqlite3 -readonly "$PW_DIR/data/postwerk.sqlite3" 'SELECT count(*) FROM messages' 2>/dev/null || echo '?')"
  sed "s/\$/ stored=$stored/" "$WORK/result" >> "$RAW"
  rm -rf "$PW_DIR"
}

# --- the matrix ------------------------------------------------------------------------------
# Context for reading the figures: how many synchronous 4 KB writes per second the disk takes now.
disk_probe() {
  local f="$WORK/probe" t0 t1
  t0="$(date +%s.%N)"
  dd if=/dev/zero of="$f" bs=4k count=300 oflag=dsync status=none
  t1="$(date +%s.%N)"
  rm -f "$f"
  python3 -c "print(round(300/($t1-$t0)))"
}

{
  echo "# smtp-ingest $STAMP on $(hostname), $(nproc) cores, $(uname -r)"
  echo "# postfix $(postconf -c "$STATE/etc/postfix" -h mail_version 2>/dev/null || echo '?'), dovecot $(dovecot --version 2>/dev/null || echo '?')"
  [ "$WHICH" != peer ] && echo "# postwerk $POSTWERK_BIN ($("$POSTWERK_BIN" --version 2>/dev/null || echo '?'))"
  echo "# RUNS=$RUNS N_2K_1=$N_2K_1 N_2K_16=$N_2K_16 N_100K_1=$N_100K_1 N_100K_16=$N_100K_16 PER_CONNECTION=$PER_CONNECTION CELLS=\"$CELLS\""
} > "$RAW"

servers=()
[ "$WHICH" != postwerk ] && servers+=(peer)
[ "$WHICH" != peer ] && servers+=(postwerk)
[ "$WHICH" != postwerk ] && peer_ensure

# Warm-up (not recorded): page cache, Dovecot's index files, the binaries.
for s in "${servers[@]}"; do
  log "warm-up: $s"
  if [ "$s" = peer ]; then
    "$LOAD" --port 25 --to "$PEER_TO" -n 200 -c 4 --maildir "$PEER_MAILDIR" > /dev/null
  else
    postwerk_start warmup
    "$LOAD" --port "$PW_PORT" --to "$PW_TO" -n 200 -c 4 > /dev/null
    postwerk_stop; rm -rf "$PW_DIR"
  fi
done

for run in $(seq 1 "$RUNS"); do
  echo "# run $run: disk $(disk_probe) dsync writes/s, load average $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RAW"
  for cell in "2048 1 $N_2K_1" "2048 16 $N_2K_16" "102400 1 $N_100K_1" "102400 16 $N_100K_16"; do
    set -- $cell
    case " $CELLS " in *" $1/$2 "*) ;; *) continue ;; esac
    for s in "${servers[@]}"; do
      label="$s/$1/$2/$run"
      log "run $run/$RUNS: $s, $(( $1 / 1024 )) KB, $2 connection(s), $3 messages"
      "${s}_run" "$1" "$2" "$3" "$label"
      tail -1 "$RAW" | sed 's/^RESULT /  /' >&2
    done
  done
done

# --- summary ------------------------------------------------------------------------------------
python3 - "$RAW" > "$SUMMARY" <<'EOF'
import re, statistics, sys
rows = {}
header = []
for line in open(sys.argv[1]):
    if line.startswith("#"):
        header.append(line.strip())
        continue
    if not line.startswith("RESULT "):
        continue
    kv = dict(p.split("=", 1) for p in line.split()[1:])
    server, size, conns, run = kv["label"].split("/")
    rows.setdefault((int(size), int(conns)), {}).setdefault(server, []).append(kv)

def stat(runs, key):
    vals = [float(r[key]) for r in runs if key in r]
    if not vals:
        return None, None, None
    return statistics.median(vals), min(vals), max(vals)

def cell(runs, key, digits=0):
    med, lo, hi = stat(runs, key)
    if med is None:
        return "—"
    f = f"{{:.{digits}f}}"
    return f"**{f.format(med)}** ({f.format(lo)}–{f.format(hi)})"

print("\n".join(h.lstrip("# ") for h in header))
print()
print("Median of the runs, (min–max) in brackets; msg/s unless stated. Postwerk acknowledges only after fsync, so its")
print("acknowledged rate is its delivered rate; the ratio divides it by what Postfix+Dovecot *delivers* end to end.")
print()
print("| size | conns | Postfix ack/s | Postfix+Dovecot delivered/s | Postfix p50 / p99 ms | Postwerk ack = delivered/s | Postwerk p50 / p99 ms | ratio (delivered) | ratio (vs Postfix ack) | goal |")
print("|---|---|---|---|---|---|---|---|---|---|")
for (size, conns) in sorted(rows):
    r = rows[(size, conns)]
    peer, pw = r.get("peer", []), r.get("postwerk", [])
    ratio = ratio_ack = "—"
    pw_med = stat(pw, "ack_rate")[0]
    if pw_med is not None and peer:
        ratio = f"{pw_med / stat(peer, 'delivered_rate')[0]:.2f}×"
        ratio_ack = f"{pw_med / stat(peer, 'ack_rate')[0]:.2f}×"
    goal = {(2048, 16): "≥ 5×", (102400, 16): "≥ 2×"}.get((size, conns), "")
    lat = lambda runs: "—" if not runs else f"{stat(runs,'p50_ms')[0]:.1f} / {stat(runs,'p99_ms')[0]:.1f}"
    errs = sum(int(x["errors"]) for x in peer + pw)
    print(f"| {size // 1024} KB | {conns} | {cell(peer,'ack_rate')} | {cell(peer,'delivered_rate')} | {lat(peer)} "
          f"| {cell(pw,'ack_rate')} | {lat(pw)} | {ratio} | {ratio_ack} | {goal} |")
errors = [(l, kv) for cellruns in rows.values() for runs in cellruns.values() for kv in runs
          for l in [kv["label"]] if kv["errors"] != "0" or kv.get("stored", kv["acked"]) not in (kv["acked"], "?")
          or kv.get("delivered", kv["acked"]) != kv["acked"]]
print()
print("Runs with errors or a count mismatch: " + (", ".join(l for l, _ in errors) if errors else "none"))
EOF
log "raw results: $RAW"
log "summary:     $SUMMARY"
cat "$SUMMARY"
