#!/usr/bin/env bash
# Crash safety (issue 10, items 1 and 4): load a server, kill it at random moments, restart it,
# and check that everything it acknowledged is there exactly once and intact. See
# docs/RELIABILITY.md ("Crash safety", "Graceful shutdown") for what is checked and the figures.
#
#   bench/crash/run.sh KILLS [postwerk|postfix-dovecot] [smtp|imap|sigterm|imap-sigterm]
#
#   smtp          SMTP load (CONNS=16 connections, two mailboxes), SIGKILL every 0.5–3 s (random)
#   imap          IMAP APPEND/STORE/MOVE/EXPUNGE (IMAP_CONNS=4 connections), SIGKILL likewise
#   sigterm       SMTP load, SIGTERM instead: every transaction must end in 250 or 4xx (421)
#   imap-sigterm  IMAP load, SIGTERM instead: every command must get its tagged reply, or the
#                 connection a `* BYE` at a command boundary
#
# After the last kill the server is restarted, the load runs on for SETTLE seconds, stops
# taking new messages and retries what is pending (a cut transaction is sent again, as an MTA
# would), then check.py reads the mailboxes over IMAP. The journal, the figures and the
# server's logs stay in WORK (printed at the end). For postwerk, `postwerk admin fsck --deep`
# then checks the store's invariants with the server stopped. Exit status 1 when check.py
# found a broken promise (lost, corrupted, unexplained duplicate, silent drop) or fsck a
# problem.
#
# Environment: CONNS=16 IMAP_CONNS=4 SETTLE=3 MIN_UP=0.5 MAX_UP=3
#   POSTWERK_BIN=target/release/postwerk (built with `cargo build --release -p postwerk`
#   when missing; BUILD=1 always rebuilds)
#   PEER_DIR=/work/shared/peers/postfix-dovecot BASELINE_STATE=/var/lib/postfix-dovecot-peer
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
KILLS="${1:?usage: $0 KILLS [postwerk|postfix-dovecot] [smtp|imap|sigterm|imap-sigterm]}"
TARGET="${2:-postwerk}"
SCENARIO="${3:-smtp}"
case "$TARGET" in postwerk|postfix-dovecot) ;; *) echo "unknown target $TARGET" >&2; exit 2 ;; esac
case "$SCENARIO" in smtp|imap|sigterm|imap-sigterm) ;; *) echo "unknown scenario $SCENARIO" >&2; exit 2 ;; esac
# Which load (smtp or imap) and how the server is stopped (SIGKILL or SIGTERM).
case "$SCENARIO" in imap|imap-sigterm) PROTOCOL=imap ;; *) PROTOCOL=smtp ;; esac
case "$SCENARIO" in *sigterm) SIGNAL=TERM ;; *) SIGNAL=KILL ;; esac
CONNS="${CONNS:-16}"
IMAP_CONNS="${IMAP_CONNS:-4}"
SETTLE="${SETTLE:-3}"
MIN_UP="${MIN_UP:-0.5}"
MAX_UP="${MAX_UP:-3}"
PEER_DIR="${PEER_DIR:-/work/shared/peers/postfix-dovecot}"
STATE="${BASELINE_STATE:-/var/lib/postfix-dovecot-peer}"

WORK="$(mktemp -d /tmp/crash-run.XXXXXX)"
JOURNAL="$WORK/journal.jsonl"
STOP="$WORK/stop"
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() { log "error: $*"; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
random_up() { python3 -c "import random; print(round(random.uniform($MIN_UP, $MAX_UP), 2))"; }

# Waits until something greets on 127.0.0.1:PORT (SMTP 220 or IMAP * OK).
wait_port() {
  for _ in $(seq 1 300); do
    python3 - "$1" <<'EOF' 2>/dev/null && return 0
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
sys.exit(0 if s.recv(512)[:4] in (b"220 ", b"220-", b"* OK") else 1)
EOF
    sleep 0.1
  done
  return 1
}

# --- the servers ----------------------------------------------------------------------------
# Each target defines: setup, start, crash (SIGKILL or SIGTERM per $SCENARIO), finish
# (everything accepted is delivered), teardown; and SMTP_PORT, IMAP_PORT, RCPTS, LOGINS.

if [ "$TARGET" = postwerk ]; then
  BIN="${POSTWERK_BIN:-$ROOT/target/release/postwerk}"
  if [ "${BUILD:-0}" = 1 ] || [ ! -x "$BIN" ]; then
    log "building postwerk (release)"
    (cd "$ROOT" && cargo build --release --quiet -p postwerk)
  fi
  SMTP_PORT="$(free_port)"
  IMAP_PORT="$(free_port)"
  RCPTS="crash1@example.test,crash2@example.test"
  LOGINS=(--login crash1@example.test:crash-password-1 --login crash2@example.test:crash-password-2)
  IMAP_LOGIN=(crash1@example.test crash-password-1)
  PID=""

  setup() {
    # A DNS responder answering NXDOMAIN at once (RFC 1035 §4.1.1), so no check waits on a
    # resolver; the filters are off anyway: this measures the store, not the checks.
    python3 "$HERE/../nxdomain-dns.py" "$WORK/dns.port" &
    DNS_PID=$!
    for _ in $(seq 1 50); do [ -s "$WORK/dns.port" ] && break; sleep 0.1; done
    {
      printf 'hostname = "mail.example.test"\ndata_dir = "%s/data"\n' "$WORK"
      printf '[listen]\nsmtp = "127.0.0.1:%s"\nimap = "127.0.0.1:%s"\n' "$SMTP_PORT" "$IMAP_PORT"
      printf '[dns]\nservers = ["127.0.0.1:%s"]\ndnssec = "off"\n' "$(cat "$WORK/dns.port")"
      printf '[greylist]\nenabled = false\n[rate]\nenabled = false\n[attachments]\nenabled = false\n'
      printf '[auth]\nenabled = false\n[spam]\nenabled = false\n'
    } > "$WORK/postwerk.toml"
    local admin=("$BIN" admin --config "$WORK/postwerk.toml")
    {
      "${admin[@]}" org create Crash
      "${admin[@]}" service create example.test --org Crash
      "${admin[@]}" address create crash1@example.test --password crash-password-1
      "${admin[@]}" address create crash2@example.test --password crash-password-2
    } > "$WORK/admin.log" 2>&1 || { cat "$WORK/admin.log" >&2; die "setup failed"; }
  }
  start() {
    "$BIN" serve --config "$WORK/postwerk.toml" >> "$WORK/serve.log" 2>&1 &
    PID=$!
    wait_port "$SMTP_PORT" && wait_port "$IMAP_PORT" || die "postwerk did not start (see $WORK/serve.log)"
  }
  crash() {
    if [ "$SIGNAL" = TERM ]; then
      kill -TERM "$PID"
      local status=0
      wait "$PID" || status=$?
      [ "$status" = 0 ] || log "postwerk exited with status $status after SIGTERM"
      echo "$status" >> "$WORK/term-status"
    else
      kill -KILL "$PID"
      wait "$PID" 2>/dev/null || true
    fi
  }
  finish() { :; }   # 250 means delivered (RCV-12): nothing to wait for
  # The store's own invariants after all the kills (docs/RELIABILITY.md, "fsck"), read with
  # the server stopped so that the result is exact; --deep reads every content's SHA-256.
  store_check() {
    kill -TERM "$PID" && wait "$PID" 2>/dev/null || true
    PID=""
    local status=0
    "$BIN" admin --config "$WORK/postwerk.toml" fsck --deep > "$WORK/fsck.txt" 2>&1 || status=$?
    echo "FSCK status=$status $(tail -1 "$WORK/fsck.txt")"
    return "$status"
  }
  teardown() {
    [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    [ -n "${DNS_PID:-}" ] && kill "$DNS_PID" 2>/dev/null || true
  }
  describe() { echo "postwerk $("$BIN" --version 2>/dev/null || echo '?') ($BIN)"; }
else
  [ "$(id -u)" = 0 ] || die "the Postfix+Dovecot peer needs root"
  SMTP_PORT=25
  IMAP_PORT=143
  RCPTS="alice@example.test,bob@example.test"
  LOGINS=(--login alice@example.test:Alice-peer-pw1 --login bob@example.test:Bob-peer-pw2)
  IMAP_LOGIN=(alice@example.test Alice-peer-pw1)
  PF_CONF="$STATE/etc/postfix"
  DC_CONF="$STATE/etc/dovecot/dovecot.conf"

  # Every process of a daemon's tree: its master and all descendants (by PID, never by name).
  tree() {
    local pid="$1" child
    echo "$pid"
    for child in $(pgrep -P "$pid" 2>/dev/null); do tree "$child"; done
  }
  masters() {
    cat "$STATE/postfix/spool/pid/master.pid" "$STATE/run/dovecot/master.pid" 2>/dev/null | tr -d ' '
  }
  setup() {
    "$PEER_DIR/start" > "$WORK/peer.log" 2>&1 || { cat "$WORK/peer.log" >&2; die "peer did not start"; }
    for user in alice@example.test bob@example.test; do
      for box in INBOX CrashA CrashB; do
        doveadm -c "$DC_CONF" expunge -u "$user" mailbox "$box" all 2>/dev/null || true
      done
    done
    postsuper -c "$PF_CONF" -d ALL >/dev/null 2>&1 || true
  }
  start() {
    "$PEER_DIR/start" >> "$WORK/peer.log" 2>&1 || { tail "$WORK/peer.log" >&2; die "peer did not restart"; }
    wait_port 25 && wait_port 143 || die "peer not listening (see $WORK/peer.log)"
  }
  crash() {
    local pids
    pids="$(for m in $(masters); do tree "$m"; done)"
    if [ "$SIGNAL" = TERM ]; then
      "$PEER_DIR/stop" >> "$WORK/peer.log" 2>&1 || true
    else
      # shellcheck disable=SC2086
      kill -KILL $pids 2>/dev/null || true
    fi
    for _ in $(seq 1 100); do
      # shellcheck disable=SC2086
      kill -0 $pids 2>/dev/null || break
      sleep 0.1
    done
  }
  finish() {
    # Postfix acknowledged into its queue; wait until Dovecot has every message (flushing the
    # deferred ones a kill left behind), at most 5 minutes.
    for _ in $(seq 1 300); do
      postqueue -c "$PF_CONF" -p 2>/dev/null | grep -q "Mail queue is empty" && return 0
      postqueue -c "$PF_CONF" -f 2>/dev/null || true
      sleep 1
    done
    log "the Postfix queue is still not empty after 5 minutes"
  }
  teardown() { :; }
  store_check() { :; }
  describe() { echo "Postfix $(postconf -d -h mail_version 2>/dev/null) + Dovecot $(dovecot --version 2>/dev/null | cut -d' ' -f1)"; }
fi
trap teardown EXIT

# --- the run --------------------------------------------------------------------------------
log "work folder $WORK; $(describe); $KILLS × $SCENARIO"
setup
start
if [ "$PROTOCOL" = imap ]; then
  load=(python3 "$HERE/load.py" imap --port "$IMAP_PORT" --user "${IMAP_LOGIN[0]}"
        --password "${IMAP_LOGIN[1]}" --conns "$IMAP_CONNS")
  LOGINS=(--login "${IMAP_LOGIN[0]}:${IMAP_LOGIN[1]}")
else
  load=(python3 "$HERE/load.py" smtp --port "$SMTP_PORT" --to "$RCPTS" --conns "$CONNS")
fi
"${load[@]}" --journal "$JOURNAL" --stop-file "$STOP" > "$WORK/load.out" 2> "$WORK/load.err" &
LOAD_PID=$!
started=$(date +%s)
for k in $(seq 1 "$KILLS"); do
  sleep "$(random_up)"
  crash
  log "SIG$SIGNAL $k/$KILLS ($(grep -c '"ev": "ack"\|"ev": "imap"' "$JOURNAL") acknowledged so far)"
  start
done
sleep "$SETTLE"
touch "$STOP"
wait "$LOAD_PID" || die "the load driver failed: $(tail -5 "$WORK/load.err")"
finish
elapsed=$(( $(date +%s) - started ))
log "load: $(cat "$WORK/load.out") in ${elapsed}s"
check_args=()
[ "$SIGNAL" = TERM ] && check_args+=(--sigterm)
status=0
python3 "$HERE/check.py" "$PROTOCOL" --journal "$JOURNAL" \
  --port "$IMAP_PORT" "${LOGINS[@]}" "${check_args[@]}" > "$WORK/figures.json" || status=$?
figures="$(cat "$WORK/figures.json")"
echo "RESULT target=$TARGET scenario=$SCENARIO kills=$KILLS seconds=$elapsed $figures"
if [ "$SIGNAL" = TERM ] && [ "$TARGET" = postwerk ]; then
  echo "SIGTERM exit statuses (count status): $(sort "$WORK/term-status" | uniq -c | tr -s ' ' | tr '\n' ';')"
fi
store_check || status=1
log "journal, logs and figures: $WORK"
exit "$status"
