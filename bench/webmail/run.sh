#!/usr/bin/env bash
# Webmail rendering (issue 11 "Done means"): the server's time to render the message list of
# a 100,000-message folder and to open a message, over HTTP on loopback, release build.
#
#   bench/webmail/run.sh            # MESSAGES=100000 REPEAT=20 SENDERS=4
#
# The folder is filled over SMTP (SENDERS parallel smtplib connections, every message
# different), then render.py signs in through /signin and times each page REPEAT times with a
# fresh connection, printing the median and the 90th percentile. Webmail has no peer in
# Postfix+Dovecot, so the figures stand alone (docs/RELIABILITY.md has none; bench/README
# keeps the latest).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
MESSAGES="${MESSAGES:-100000}"
REPEAT="${REPEAT:-20}"
SENDERS="${SENDERS:-4}"
BIN="${POSTWERK_BIN:-$ROOT/target/release/postwerk}"
WORK="$(mktemp -d /tmp/webmail-bench.XXXXXX)"
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [ "${BUILD:-0}" = 1 ] || [ ! -x "$BIN" ]; then
  log "building postwerk (release)"
  (cd "$ROOT" && cargo build --release --quiet -p postwerk)
fi

python3 "$HERE/../nxdomain-dns.py" "$WORK/dns.port" &
DNS_PID=$!
for _ in $(seq 1 50); do [ -s "$WORK/dns.port" ] && break; sleep 0.1; done
SMTP_PORT="$(free_port)"
HTTP_PORT="$(free_port)"
{
  printf 'hostname = "mail.example.test"\ndata_dir = "%s/data"\n' "$WORK"
  printf '[listen]\nsmtp = "127.0.0.1:%s"\nhttp = "127.0.0.1:%s"\n' "$SMTP_PORT" "$HTTP_PORT"
  printf '[dns]\nservers = ["127.0.0.1:%s"]\ndnssec = "off"\n' "$(cat "$WORK/dns.port")"
  printf '[greylist]\nenabled = false\n[rate]\nenabled = false\n'
  printf '[http]\nsecure_cookies = false\n'
} > "$WORK/postwerk.toml"
admin=("$BIN" admin --config "$WORK/postwerk.toml")
{
  "${admin[@]}" org create Bench
  "${admin[@]}" service create example.test --org Bench --quota 10
  "${admin[@]}" address create reader@example.test --password mailbox-password-1
  "${admin[@]}" user create reader@personal.test --password account-password-1 --org Bench --name Reader
  "${admin[@]}" access grant reader@example.test reader@personal.test
} > "$WORK/admin.log" 2>&1 || { cat "$WORK/admin.log" >&2; exit 1; }

"$BIN" serve --config "$WORK/postwerk.toml" > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
trap 'kill $SERVER_PID $DNS_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $HTTP_PORT), 1)" 2>/dev/null && break
  sleep 0.1
done

log "filling the INBOX with $MESSAGES messages over SMTP ($SENDERS senders)"
python3 "$HERE/render.py" fill "127.0.0.1:$SMTP_PORT" "$MESSAGES" "$SENDERS"
log "timing the pages ($REPEAT times each)"
python3 "$HERE/render.py" time "127.0.0.1:$HTTP_PORT" "$REPEAT"
echo "RSS after: $(ps -o rss= -p $SERVER_PID) KiB"
