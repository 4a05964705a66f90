#!/usr/bin/env python3
"""IMAP benchmark (issue 4): Postwerk side by side with Dovecot from Debian's packages.

Measures, over implicit TLS on loopback, for each server:

  fetch   SELECT INBOX + FETCH 1:* (FLAGS UID RFC822.SIZE ENVELOPE) on mailboxes of 10,000 and
          100,000 messages: time from sending SELECT to the tagged OK of FETCH;
  search  UID SEARCH TEXT <word> on the same mailboxes, a word in a few messages and one in none;
  login   connect + TLS + LOGIN until the tagged OK (then LOGOUT), each on a new connection;
  idle    proportional set size (PSS) of the server per idle connection (imaps, LOGIN, SELECT
          INBOX, IDLE), from /proc/<pid>/smaps_rollup before and after opening the connections
          (Dovecot: the sum over its master and every descendant process).

The client is raw sockets + ssl: commands are sent as bytes and responses read with large
buffers until the tagged completion line, so the client's cost is small and the same for both
servers. Mailboxes are populated through IMAP APPEND with LITERAL+ (pipelined, in batches) with
the same generated messages on both servers, and reused when their message count already
matches. See bench/README.md, section "IMAP (issue 4)".

Run as root (the peer's start script, /proc of Dovecot's processes, ulimit -n).
"""

import argparse
import datetime
import json
import os
import random
import re
import resource
import selectors
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PEER_DIR = Path(os.environ.get("PEER_DIR", "/work/shared/peers/postfix-dovecot"))
PEER_STATE = Path(os.environ.get("BASELINE_STATE", "/var/lib/postfix-dovecot-peer"))
WORK = Path(os.environ.get("IMAP_BENCH_WORK", "/tmp/imap-bench"))
DOMAIN = "example.test"
PEER_PASSWORD = "Bench-peer-pw1"
POSTWERK_PASSWORD = "bench-password-1"

# Words for searches. HIT_WORD is put in the body of every HIT_EVERY-th message (5 of 10,000,
# 50 of 100,000); NONE_WORD is in no message, but every trigram of it is common in the text
# ("budget" and "review" are in the vocabulary, never glued together).
HIT_WORD = "quetzalcoatl"
HIT_EVERY = 2000
HIT_OFFSET = 7
NONE_WORD = "budgetreview"

VOCABULARY = """
the of and to in is that for it as was with be by on not he this are or his from at which but
have an they you were her she there been one all we their has would when if so no will more
can about out up what into them some time only could new than other then these two may first
any like now people my made over did down way find use water long little very after words
called just where most know get through back much before go good year three work well also
meeting budget review report project schedule deadline customer invoice quarter team office
update agenda minutes proposal contract supplier delivery order payment account balance
forecast revenue margin target launch release version feature issue ticket support service
client partner vendor shipment warehouse inventory product price discount offer request
approval signature document draft final attached please thanks regards tomorrow today monday
tuesday wednesday thursday friday morning afternoon evening call conference room building
floor lunch dinner travel flight hotel booking expense receipt policy training session
workshop presentation slides notes summary action items follow question answer feedback
comment change plan strategy goal result analysis data numbers figures chart table spreadsheet
database server network backup storage security password access permission user admin system
software hardware laptop printer phone email message letter package parcel address street city
country region market sales marketing finance legal human resources manager director board
committee member group department unit branch head lead senior junior intern candidate
interview offer start date holiday vacation leave sick health insurance benefit salary bonus
review performance objective quarterly annual monthly weekly daily hourly urgent important
minor major critical blocker resolved pending open closed waiting confirmed cancelled moved
""".split()
FIRST_NAMES = """anna ben clara david emma felix greta hugo ida jonas karla leon mia noah olga paul
rosa sam tina ulf vera walter xenia yusuf zoe""".split()
LAST_NAMES = """adler becker conrad dietrich engel fischer graf hartmann imhof jung keller lang
meyer neumann otto peters richter schmidt thomas ulrich vogel weber zimmermann""".split()
SENDER_DOMAINS = ["example.org", "example.net", "mail.example.com", "lists.example.org"]
BASE_DATE = datetime.datetime(2026, 1, 5, 8, 0, 0, tzinfo=datetime.timezone.utc)


def message(i):
    """Message number i (0-based): deterministic, 2-4 KB, CRLF line ends."""
    r = random.Random(i * 7919 + 17)
    first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
    dom = r.choice(SENDER_DOMAINS)
    date = BASE_DATE + datetime.timedelta(seconds=i * 97)
    subject = " ".join(r.choice(VOCABULARY) for _ in range(r.randint(3, 9))).capitalize()
    if r.random() < 0.3:
        subject = "Re: " + subject
    h = [
        f"Received: from mx{r.randint(1, 9)}.{dom} (mx.{dom} [192.0.2.{r.randint(1, 254)}])",
        f"\tby mail.{DOMAIN} with ESMTPS id {r.getrandbits(48):012x}",
        f"\tfor <bench@{DOMAIN}>; {date.strftime('%a, %d %b %Y %H:%M:%S +0000')}",
        f'From: "{first.capitalize()} {last.capitalize()}" <{first}.{last}@{dom}>',
        f'To: "Bench" <bench@{DOMAIN}>',
    ]
    if r.random() < 0.25:
        f2, l2 = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
        h.append(f"Cc: {f2}.{l2}@{r.choice(SENDER_DOMAINS)}")
    h += [
        f"Subject: {subject}",
        f"Date: {date.strftime('%a, %d %b %Y %H:%M:%S +0000')}",
        f"Message-ID: <{i}.{r.getrandbits(40):010x}@{dom}>",
    ]
    if subject.startswith("Re: "):
        h.append(f"In-Reply-To: <{max(0, i - r.randint(1, 50))}.0@{dom}>")
    h += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
          "Content-Transfer-Encoding: 7bit"]
    head = "\r\n".join(h) + "\r\n\r\n"
    target = r.randint(2000, 4000) - len(head)
    lines = [f"Hello {r.choice(FIRST_NAMES).capitalize()},", ""]
    size = 0
    hit = i % HIT_EVERY == HIT_OFFSET
    while size < target:
        words, n = [], 0
        while n < 68:
            w = r.choice(VOCABULARY)
            words.append(w)
            n += len(w) + 1
        if hit and len(lines) == 6:
            words[3] = HIT_WORD
        line = " ".join(words)
        lines.append(line)
        size += len(line) + 2
    lines += ["", "Regards,", f"{first.capitalize()} {last.capitalize()}", ""]
    return (head + "\r\n".join(lines)).encode()


def hits_expected(size):
    return sum(1 for i in range(size) if i % HIT_EVERY == HIT_OFFSET)


def flags_of(i):
    f = []
    if i % 3:
        f.append("\\Seen")
    if i % 50 == 0:
        f.append("\\Flagged")
    return "(" + " ".join(f) + ")"


# ---------------------------------------------------------------- TLS client ---------------

def client_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


CTX = client_context()


class ImapError(Exception):
    pass


class Conn:
    """One blocking IMAP connection over TLS; responses read in bulk."""

    def __init__(self, host, port, timeout=600):
        raw = socket.create_connection((host, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s = CTX.wrap_socket(raw)
        self.pending = bytearray()
        self.buf = bytearray(1 << 20)
        self.mv = memoryview(self.buf)
        self.greeting = self.read_line()

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def _recv(self):
        n = self.s.recv_into(self.mv)
        if n == 0:
            raise ImapError("connection closed by the server; last: %r" % bytes(self.pending[-300:]))
        return n

    def read_line(self):
        while True:
            i = self.pending.find(b"\r\n")
            if i >= 0:
                line = bytes(self.pending[:i])
                del self.pending[:i + 2]
                return line
            n = self._recv()
            self.pending += self.mv[:n]

    def send(self, data):
        self.s.sendall(data)

    def read_tagged(self, tag):
        """Reads up to and including the tagged completion line of `tag`.

        Returns (everything read before it, the tagged line). Literals are not parsed: the
        tagged line is recognised as CRLF + tag + SP, which cannot occur in our messages.
        """
        acc = bytearray(b"\r\n")  # so that a tagged line at the very start is found too
        acc += self.pending
        self.pending = bytearray()
        needle = b"\r\n" + tag + b" "
        pos = acc.find(needle)
        while True:
            if pos >= 0:
                end = acc.find(b"\r\n", pos + 2)
                if end >= 0:
                    line = bytes(acc[pos + 2:end])
                    self.pending = acc[end + 2:]
                    del acc[pos:]
                    del acc[:2]
                    return acc, line
                n = self._recv()
                acc += self.mv[:n]
            else:
                start = max(0, len(acc) - len(needle))
                n = self._recv()
                acc += self.mv[:n]
                pos = acc.find(needle, start)

    def command(self, tag, text, ok=True):
        if isinstance(text, str):
            text = text.encode()
        self.send(tag + b" " + text + b"\r\n")
        body, line = self.read_tagged(tag)
        if ok and not line.startswith(tag + b" OK"):
            raise ImapError(f"{text[:80]!r} -> {line!r}")
        return body, line

    def login(self, user, password):
        return self.command(b"L", f'LOGIN "{user}" "{password}"')

    def logout(self):
        try:
            self.send(b"Z LOGOUT\r\n")
            self.read_tagged(b"Z")
        except (OSError, ImapError):
            pass
        self.close()


def exists_of(body):
    m = re.search(rb"\* (\d+) EXISTS", bytes(body))
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------- servers ------------------

def proc_children():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def descendants(pid):
    kids = proc_children()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def pss_kib(pids):
    """Sum of Pss (and Rss) in KiB over pids, from smaps_rollup."""
    pss = rss = 0
    n = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1])
            n += 1
        except OSError:
            pass
    return pss, rss, n


def cpu_seconds(pids):
    t = 0
    tick = os.sysconf("SC_CLK_TCK")
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                st = f.read()
            fields = st[st.rindex(")") + 2:].split()
            t += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return t / tick


class Server:
    name = ""
    host = "127.0.0.1"
    port = 0
    password = ""

    def user(self, size):
        return (f"bench{size}" if size else "bench") + "@" + DOMAIN

    def pids(self):
        raise NotImplementedError

    def connect(self):
        return Conn(self.host, self.port)

    def session(self, size):
        c = self.connect()
        c.login(self.user(size), self.password)
        return c


class Peer(Server):
    name = "dovecot"
    port = 993
    password = PEER_PASSWORD

    def __init__(self, args):
        self.args = args
        self.started = False

    def master(self):
        f = PEER_STATE / "run/dovecot/master.pid"
        try:
            pid = int(f.read_text().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def pids(self):
        m = self.master()
        return descendants(m) if m else []

    def ensure(self, sizes):
        """Starts the peer (or adds our accounts) with a merged accounts file."""
        accounts = json.loads((PEER_DIR / "accounts.json").read_text())
        have = {a["user"].lower() for a in accounts["accounts"]}
        wanted = [self.user(s) for s in sorted(set([0, 10000, 100000] + list(sizes)))]
        for u in wanted:
            if u not in have:
                accounts["accounts"].append({"user": u, "password": PEER_PASSWORD})
        users_file = PEER_STATE / "etc/dovecot/users"
        try:
            present = {l.split(":", 1)[0] for l in users_file.read_text().splitlines()}
        except OSError:
            present = set()
        if self.master() and all(u in present for u in wanted):
            return
        WORK.mkdir(parents=True, exist_ok=True)
        acc_file = WORK / "peer-accounts.json"
        acc_file.write_text(json.dumps(accounts, indent=1))
        was_running = self.master() is not None
        log = WORK / "peer-start.log"
        print(f"peer: {'reloading with' if was_running else 'starting with'} bench accounts "
              f"(PEER_ACCOUNTS={acc_file}; output in {log})", flush=True)
        with open(log, "w") as out:
            rc = subprocess.call([str(PEER_DIR / "start")], cwd=PEER_DIR, stdout=out,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 env=dict(os.environ, PEER_ACCOUNTS=str(acc_file)))
        if rc != 0:
            sys.exit(f"peer: ./start failed, see {log}")
        self.started = not was_running

    def stop(self):
        if self.started:
            with open(WORK / "peer-stop.log", "w") as out:
                subprocess.call([str(PEER_DIR / "stop")], cwd=PEER_DIR, stdout=out,
                                stderr=subprocess.STDOUT)
            print("peer: stopped (we started it; KEEP_PEER=1 keeps it)")

    def version(self):
        try:
            return subprocess.run(["dovecot", "--version"], capture_output=True,
                                  text=True).stdout.strip()
        except OSError:
            return "?"


class Postwerk(Server):
    name = "postwerk"
    password = POSTWERK_PASSWORD

    def __init__(self, args):
        self.args = args
        self.bin = Path(args.postwerk_bin)
        self.data = WORK / "postwerk-data"
        self.proc = None

    def pids(self):
        return [self.proc.pid] if self.proc and self.proc.poll() is None else []

    def build_if_stale(self):
        if self.args.no_build and self.bin.exists():
            return
        newest = 0.0
        for base in [REPO / "crates", REPO / "Cargo.toml", REPO / "Cargo.lock"]:
            if base.is_file():
                newest = max(newest, base.stat().st_mtime)
                continue
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames[:] = [d for d in dirnames if d not in ("target", "tests")]
                for fn in filenames:
                    if fn.endswith((".rs", ".toml", ".sql")):
                        newest = max(newest, os.stat(os.path.join(dirpath, fn)).st_mtime)
        if self.bin.exists() and self.bin.stat().st_mtime >= newest:
            return
        print("postwerk: binary missing or older than the sources: cargo build --release -p postwerk",
              flush=True)
        rc = subprocess.call(["cargo", "build", "--release", "-p", "postwerk"], cwd=REPO)
        if rc != 0:
            sys.exit("postwerk: build failed")

    def admin(self, *a, check=False):
        r = subprocess.run([str(self.bin), "admin", "--data-dir", str(self.data), *a],
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            sys.exit(f"postwerk admin {' '.join(a)}: {r.stderr.strip()}")
        return r

    def start(self, sizes):
        if self.args.fresh_postwerk and self.data.exists():
            shutil.rmtree(self.data)
        self.data.mkdir(parents=True, exist_ok=True)
        cfg = WORK / "postwerk.toml"
        cfg.write_text(
            'hostname = "mail.example.test"\n'
            f'data_dir = "{self.data}"\n\n'
            "[listen]\n"
            f'imaps = "{self.args.postwerk_listen}"\n\n'
            # Every connection comes from 127.0.0.1: the limit per client address (200 by
            # default, issue 10) would refuse the idle test's 5,000.
            "[imap]\n"
            "max_connections_per_address = 0\n\n"
            "[log]\n"
            'level = "warn"\n')
        # Account setup is idempotent: "already exists" errors are ignored, a login checks it.
        self.admin("org", "create", "Bench")
        self.admin("service", "create", DOMAIN, "--org", "Bench")
        for s in sorted(set([0] + list(sizes))):
            self.admin("address", "create", self.user(s), "--password", POSTWERK_PASSWORD)
        self.start_process()

    def start_process(self):
        cfg = WORK / "postwerk.toml"
        listeners = self.data / "run/listeners.json"
        if listeners.exists():
            listeners.unlink()
        self.log = open(WORK / "postwerk.log", "a")
        self.log.write(f"\n--- serve started {datetime.datetime.now().isoformat()}\n")
        self.log.flush()
        self.proc = subprocess.Popen([str(self.bin), "serve", "--config", str(cfg)],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"postwerk serve exited with {self.proc.returncode}; see {WORK}/postwerk.log"
                         " (an old data folder? try --fresh-postwerk)")
            if listeners.exists():
                try:
                    bound = json.loads(listeners.read_text())
                    addr = bound["imaps"]
                    self.host, port = addr.rsplit(":", 1)
                    self.port = int(port)
                    break
                except (ValueError, KeyError):
                    pass
            time.sleep(0.1)
        else:
            sys.exit("postwerk serve did not write run/listeners.json within 60 s")
        c = self.session(0)
        c.logout()
        print(f"postwerk: serving imaps on {self.host}:{self.port}, pid {self.proc.pid}, "
              f"data {self.data}", flush=True)

    def restart(self):
        """A new server process on the same data: the idle measurement must not reuse heap
        that an earlier FETCH of 100,000 messages left free inside the process."""
        self.stop()
        self.start_process()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()

    def version(self):
        st = self.bin.stat()
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain",
                                "--untracked-files=no", "--", "crates"],
                               capture_output=True, text=True).stdout.strip()
        built = datetime.datetime.fromtimestamp(st.st_mtime).strftime("%Y-%m-%d %H:%M")
        return f"built {built}, HEAD {head}{' + changes' if dirty else ''}"


# ---------------------------------------------------------------- environment --------------

def loadavg():
    return os.getloadavg()[0]


def builds_running():
    r = subprocess.run(["pgrep", "-f", r"cargo |rustc |cargo-clippy|clippy-driver"],
                       capture_output=True, text=True)
    mine = {str(os.getpid())}
    return [p for p in r.stdout.split() if p not in mine]


WAITED = [0.0]


def wait_for_quiet(args, what):
    """Waits (at most --wait-build seconds, and --wait-budget in all) while cargo/rustc runs;
    returns whether one still runs."""
    deadline = time.time() + min(args.wait_build, max(0.0, args.wait_budget - WAITED[0]))
    t0 = time.time()
    announced = False
    while builds_running():
        if time.time() >= deadline:
            WAITED[0] += time.time() - t0
            if announced:
                print(f"  (a cargo/rustc build is still running: measuring {what} anyway; "
                      f"load {loadavg():.2f})", flush=True)
            return True
        if not announced:
            print(f"  waiting for a cargo/rustc build to end before {what} "
                  f"(at most {args.wait_build} s)...", flush=True)
            announced = True
        time.sleep(5)
    WAITED[0] += time.time() - t0
    return False


def settle(server, seconds=2.0, limit=60):
    """Waits until the server's processes use less than 5% CPU over `seconds` (at most `limit`):
    after populating, background work (Postwerk's full-text indexing) must be done."""
    t_end = time.time() + limit
    while time.time() < t_end:
        a = cpu_seconds(server.pids())
        time.sleep(seconds)
        b = cpu_seconds(server.pids())
        if b - a < 0.05 * seconds:
            return True
    print(f"  {server.name}: still busy after {limit} s", flush=True)
    return False


# ---------------------------------------------------------------- populate -----------------

def select_count(c):
    body, _ = c.command(b"S", "SELECT INBOX")
    return exists_of(body)


def message_id(i):
    m = re.search(rb"\r\nMessage-ID: (<[^>]*>)", message(i))
    return m.group(1)


def is_prefix(c, n):
    """Whether the n messages of the selected mailbox are messages 0..n-1, in order (checked on
    the first, a middle and the last one)."""
    for i in sorted({0, n // 2, n - 1}):
        body, _ = c.command(b"M", f"FETCH {i + 1} (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        if message_id(i) not in bytes(body):
            return False
    return True


def populate(server, size, args, out):
    c = server.session(size)
    n = select_count(c)
    if n == size:
        print(f"  {server.name}: {server.user(size)} already holds {size} messages: reused",
              flush=True)
        c.logout()
        return False
    first = 0
    if n and n < size and args.populate_conns == 1 and is_prefix(c, n):
        print(f"  {server.name}: {server.user(size)} holds the first {n} messages: adding the rest",
              flush=True)
        first = n
    elif n:
        print(f"  {server.name}: {server.user(size)} holds {n} messages, not {size}: emptying it",
              flush=True)
        c.command(b"D", "STORE 1:* +FLAGS.SILENT (\\Deleted)")
        c.command(b"E", "EXPUNGE")
    c.logout()
    how = "MULTIAPPEND" if args.multiappend else "pipelined APPEND"
    print(f"  {server.name}: appending {size - first} messages to {server.user(size)} "
          f"({args.populate_conns} connection(s), {how} with LITERAL+, batches of {args.batch})",
          flush=True)
    t0 = time.perf_counter()
    done = [0]
    errors = []
    lock = threading.Lock()

    def worker(lo, hi):
        try:
            conn = server.session(size)
            for b0 in range(lo, hi, args.batch):
                b1 = min(hi, b0 + args.batch)
                parts = []
                if args.multiappend:
                    # RFC 3502: one command, one transaction, b1 - b0 messages.
                    parts.append(b"A%d APPEND INBOX" % (b1 - 1))
                    for i in range(b0, b1):
                        m = message(i)
                        parts.append(b" %s {%d+}\r\n" % (flags_of(i).encode(), len(m)))
                        parts.append(m)
                    parts.append(b"\r\n")
                else:
                    for i in range(b0, b1):
                        m = message(i)
                        parts.append(b"A%d APPEND INBOX %s {%d+}\r\n"
                                     % (i, flags_of(i).encode(), len(m)))
                        parts.append(m)
                        parts.append(b"\r\n")
                conn.send(b"".join(parts))
                body, line = conn.read_tagged(b"A%d" % (b1 - 1))
                text = bytes(body) + b"\r\n" + line
                bad = [l for l in text.split(b"\r\n")
                       if l.startswith(b"A") and l.split(b" ", 2)[1:2] != [b"OK"]]
                if bad:
                    raise ImapError(f"APPEND refused: {bad[0][:200]!r}")
                with lock:
                    done[0] += b1 - b0
                    step_p = max(1000, size // 10)
                    if done[0] // step_p != (done[0] - (b1 - b0)) // step_p:
                        el = time.perf_counter() - t0
                        print(f"    {first + done[0]}/{size} in {el:.0f} s ({done[0] / el:.0f}/s)",
                              flush=True)
            conn.logout()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    step = -(-(size - first) // args.populate_conns)
    threads = [threading.Thread(target=worker, args=(lo, min(size, lo + step)))
               for lo in range(first, size, step)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    el = time.perf_counter() - t0
    if errors:
        sys.exit(f"{server.name}: populating failed: {errors[0]}")
    c = server.session(size)
    n = select_count(c)
    c.logout()
    line = (f"POPULATE server={server.name} size={size} appended={size - first} exists={n} "
            f"seconds={el:.1f} rate={(size - first) / el:.0f}/s conns={args.populate_conns} "
            f"multiappend={int(args.multiappend)} load={loadavg():.2f}")
    print("  " + line, flush=True)
    out.raw(line)
    if n != size:
        sys.exit(f"{server.name}: {n} messages after populating, expected {size}")
    return True


# ---------------------------------------------------------------- measurements -------------

def fetch_run(server, size):
    c = server.session(size)
    pids = server.pids()
    cpu0 = cpu_seconds(pids)
    t0 = time.perf_counter()
    c.send(b"S SELECT INBOX\r\n")
    body, line = c.read_tagged(b"S")
    t1 = time.perf_counter()
    if not line.startswith(b"S OK"):
        raise ImapError(f"SELECT: {line!r}")
    exists = exists_of(body)
    c.send(b"F FETCH 1:* (FLAGS UID RFC822.SIZE ENVELOPE)\r\n")
    body, line = c.read_tagged(b"F")
    t2 = time.perf_counter()
    cpu1 = cpu_seconds(pids + [p for p in server.pids() if p not in pids])
    if not line.startswith(b"F OK"):
        raise ImapError(f"FETCH: {line!r}")
    count = body.count(b" FETCH (")
    nbytes = len(body)
    c.logout()
    return dict(select_ms=(t1 - t0) * 1e3, fetch_ms=(t2 - t1) * 1e3, total_ms=(t2 - t0) * 1e3,
                exists=exists, responses=count, bytes=nbytes, server_cpu_ms=(cpu1 - cpu0) * 1e3)


def search_runs(server, size, word, runs):
    c = server.session(size)
    select_count(c)
    res = []
    for k in range(runs + 1):
        pids = server.pids()
        cpu0 = cpu_seconds(pids)
        t0 = time.perf_counter()
        c.send(b"Q UID SEARCH TEXT " + word.encode() + b"\r\n")
        body, line = c.read_tagged(b"Q")
        t1 = time.perf_counter()
        cpu1 = cpu_seconds(pids)
        if not line.startswith(b"Q OK"):
            raise ImapError(f"SEARCH: {line!r}")
        m = re.search(rb"\* SEARCH([ 0-9]*)", bytes(body))
        hits = len(m.group(1).split()) if m else -1
        res.append(dict(run=k, ms=(t1 - t0) * 1e3, hits=hits, server_cpu_ms=(cpu1 - cpu0) * 1e3))
    c.logout()
    return res


def login_runs(server, n, warm):
    user = server.user(0)
    login = f'L LOGIN "{user}" "{server.password}"\r\n'.encode()
    res = []
    for k in range(warm + n):
        t0 = time.perf_counter()
        raw = socket.create_connection((server.host, server.port), timeout=60)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s = CTX.wrap_socket(raw)
        t1 = time.perf_counter()
        c = Conn.__new__(Conn)
        c.s, c.pending = s, bytearray()
        c.buf = bytearray(1 << 16)
        c.mv = memoryview(c.buf)
        c.read_line()
        t2 = time.perf_counter()
        c.send(login)
        _, line = c.read_tagged(b"L")
        t3 = time.perf_counter()
        if not line.startswith(b"L OK"):
            raise ImapError(f"LOGIN: {line!r}")
        c.logout()
        if k >= warm:
            res.append(dict(total_ms=(t3 - t0) * 1e3, tls_ms=(t1 - t0) * 1e3,
                            greeting_ms=(t2 - t1) * 1e3, login_ms=(t3 - t2) * 1e3))
    return res


class IdleConn:
    __slots__ = ("sock", "state", "buf", "t0")


def open_idle(server, size, n, window, timeout):
    """Opens n connections, each imaps + LOGIN + SELECT INBOX + IDLE, `window` at a time.

    Returns (open sockets, failures, seconds)."""
    user = server.user(size)
    sel = selectors.DefaultSelector()
    ready, failures = [], []
    inflight = 0
    started = 0
    t_start = time.perf_counter()
    login = f'L LOGIN "{user}" "{server.password}"\r\n'.encode()

    def fail(ic, why):
        nonlocal inflight
        try:
            sel.unregister(ic.sock)
        except (KeyError, ValueError):
            pass
        ic.sock.close()
        inflight -= 1
        failures.append(why)

    def advance(ic):
        nonlocal inflight
        if ic.state == "connect":
            err = ic.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                return fail(ic, f"connect: {os.strerror(err)}")
            raw = ic.sock
            ic.sock = CTX.wrap_socket(raw, do_handshake_on_connect=False)
            sel.unregister(raw)
            sel.register(ic.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, ic)
            ic.state = "hs"
        if ic.state == "hs":
            try:
                ic.sock.do_handshake()
            except ssl.SSLWantReadError:
                sel.modify(ic.sock, selectors.EVENT_READ, ic)
                return
            except ssl.SSLWantWriteError:
                sel.modify(ic.sock, selectors.EVENT_WRITE, ic)
                return
            except (OSError, ssl.SSLError) as e:
                return fail(ic, f"handshake: {e}")
            sel.modify(ic.sock, selectors.EVENT_READ, ic)
            ic.state = "greeting"
        while True:
            try:
                data = ic.sock.recv(65536)
            except ssl.SSLWantReadError:
                return
            except (OSError, ssl.SSLError) as e:
                return fail(ic, f"{ic.state}: {e}")
            if not data:
                return fail(ic, f"{ic.state}: closed by server after {bytes(ic.buf[-200:])!r}")
            ic.buf += data
            while True:
                i = ic.buf.find(b"\r\n")
                if i < 0:
                    break
                line = bytes(ic.buf[:i])
                del ic.buf[:i + 2]
                if ic.state == "greeting":
                    if not line.startswith(b"* OK"):
                        return fail(ic, f"greeting: {line[:200]!r}")
                    ic.sock.sendall(login)
                    ic.state = "login"
                elif ic.state == "login" and line.startswith(b"L "):
                    if not line.startswith(b"L OK"):
                        return fail(ic, f"login: {line[:200]!r}")
                    ic.sock.sendall(b"S SELECT INBOX\r\n")
                    ic.state = "select"
                elif ic.state == "select" and line.startswith(b"S "):
                    if not line.startswith(b"S OK"):
                        return fail(ic, f"select: {line[:200]!r}")
                    ic.sock.sendall(b"I IDLE\r\n")
                    ic.state = "idle"
                elif ic.state == "idle" and line.startswith(b"+"):
                    sel.unregister(ic.sock)
                    ready.append(ic.sock)
                    inflight -= 1
                    return
                elif ic.state == "idle" and line.startswith(b"I "):
                    return fail(ic, f"idle: {line[:200]!r}")

    deadline = time.time() + timeout
    while len(ready) + len(failures) < n:
        while inflight < window and started < n:
            ic = IdleConn()
            ic.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            ic.sock.setblocking(False)
            ic.sock.connect_ex((server.host, server.port))
            ic.state, ic.buf, ic.t0 = "connect", bytearray(), time.perf_counter()
            sel.register(ic.sock, selectors.EVENT_WRITE, ic)
            inflight += 1
            started += 1
        if time.time() > deadline:
            failures.append(f"timeout with {inflight} connections in flight")
            break
        for key, _ in sel.select(timeout=5):
            advance(key.data)
    # Anything still in flight at a timeout is closed.
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    sel.close()
    return ready, failures, time.perf_counter() - t_start


def proc_status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def idle_measure(server, size, n, args, out):
    if isinstance(server, Postwerk):
        pid = server.proc.pid
        line = (f"MEMORY server=postwerk before_restart=1 vmrss_kib={proc_status_kib(pid, 'VmRSS')} "
                f"vmhwm_kib={proc_status_kib(pid, 'VmHWM')} pss_kib={pss_kib([pid])[0]}")
        print("  " + line, flush=True)
        out.raw(line)
        server.restart()
        # One login so that the baseline includes what the first session initialises once.
        server.session(size).logout()
    settle(server, limit=30)
    pids0 = server.pids()
    pss0, rss0, np0 = pss_kib(pids0)
    # In two halves: the PSS between them gives the cost of the second half's connections
    # alone, without what the first connections made once for all (the read connections'
    # page caches filled by SELECT, the allocator's arenas).
    half = n // 2
    socks, failures, secs = open_idle(server, size, half, args.idle_window, args.idle_timeout)
    time.sleep(args.idle_settle)
    pss_mid, _, _ = pss_kib(server.pids())
    got_mid = len(socks)
    more, more_failures, more_secs = open_idle(server, size, n - half, args.idle_window,
                                               args.idle_timeout)
    socks += more
    failures += more_failures
    secs += more_secs
    time.sleep(args.idle_settle)
    pids1 = server.pids()
    pss1, rss1, np1 = pss_kib(pids1)
    got = len(socks)
    for s in socks:
        try:
            s.sendall(b"DONE\r\nZ LOGOUT\r\n")
        except OSError:
            pass
        s.close()
    per = (pss1 - pss0) / got if got else float("nan")
    r = dict(wanted=n, open=got, failed=len(failures), open_s=secs, pss_before_kib=pss0,
             pss_after_kib=pss1, rss_before_kib=rss0, rss_after_kib=rss1, procs_before=np0,
             procs_after=np1, pss_per_conn_kib=per, rss_per_conn_kib=(rss1 - rss0) / got if got else 0,
             pss_mid_kib=pss_mid, open_mid=got_mid,
             pss_per_conn_second_half_kib=((pss1 - pss_mid) / (got - got_mid)
                                           if got > got_mid else float("nan")))
    if failures:
        r["first_failure"] = failures[0].replace(" ", "_")[:160]
    return r


# ---------------------------------------------------------------- output -------------------

class Out:
    """Raw lines go to bench/results/imap-<time>.txt (with --populate-only: WORK/populate.txt)."""

    def __init__(self, stamp, populate_only=False):
        self.dir = WORK if populate_only else REPO / "bench/results"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.txt = self.dir / ("populate.txt" if populate_only else f"imap-{stamp}.txt")
        self.md = self.dir / f"imap-{stamp}.md"
        self.f = open(self.txt, "a" if populate_only else "w")

    def raw(self, line):
        self.f.write(line + "\n")
        self.f.flush()


def fmt_kv(d):
    parts = []
    for k, v in d.items():
        if isinstance(v, float):
            v = f"{v:.2f}"
        parts.append(f"{k}={v}")
    return " ".join(parts)


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def ms(x):
    if x != x:
        return "—"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def ratio(a, b):
    if not a or not b or a != a or b != b:
        return "—"
    if a / b < 0.1:
        return f"1/{b / a:,.0f}"
    return f"{a / b:.2f}×"


# ---------------------------------------------------------------- main ---------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", default="dovecot,postwerk",
                    help="comma-separated: dovecot, postwerk (default both)")
    ap.add_argument("--tests", default="fetch,search,login,idle",
                    help="comma-separated among fetch, search, login, idle")
    ap.add_argument("--sizes", default="10000",
                    help="mailbox sizes for fetch/search, e.g. 10000,100000 (default 10000)")
    ap.add_argument("--runs", type=int, default=5, help="timed runs after one warm-up (default 5)")
    ap.add_argument("--logins", type=int, default=200, help="timed logins (default 200)")
    ap.add_argument("--login-warmup", type=int, default=10)
    ap.add_argument("--idle-conns", type=int, default=5000,
                    help="idle connections to open (default 5000)")
    ap.add_argument("--peer-idle-conns", type=int, default=1900,
                    help="idle connections for Dovecot: the peer's configuration allows 2,000 imap "
                         "and 2,000 imap-login processes (default 1900)")
    ap.add_argument("--idle-sizes", default="0,10000",
                    help="mailboxes the idle connections select, one round each: 0 (bench@, "
                         "empty) or a populated size (default 0,10000)")
    ap.add_argument("--idle-window", type=int, default=16,
                    help="connections being opened at once (default 16)")
    ap.add_argument("--idle-timeout", type=float, default=900)
    ap.add_argument("--idle-settle", type=float, default=3.0,
                    help="seconds between the last IDLE and the 'after' measurement")
    ap.add_argument("--populate-conns", type=int, default=1,
                    help="connections appending at once (default 1: several make Dovecot's "
                         "Maildir rescan, and only one lets an interrupted run resume)")
    ap.add_argument("--multiappend", action="store_true",
                    help="one APPEND command (RFC 3502) per batch instead of one per message")
    ap.add_argument("--batch", type=int, default=200, help="APPENDs per pipelined batch")
    ap.add_argument("--populate-only", action="store_true")
    ap.add_argument("--fresh-postwerk", action="store_true",
                    help="delete the Postwerk data folder first (else reused)")
    ap.add_argument("--postwerk-bin", default=str(REPO / "target/release/postwerk"))
    ap.add_argument("--postwerk-listen", default="127.0.0.1:2993",
                    help="imaps listener (port 0: any free port; default 127.0.0.1:2993)")
    ap.add_argument("--no-build", action="store_true",
                    help="do not rebuild target/release/postwerk when older than the sources")
    ap.add_argument("--wait-build", type=float, default=120,
                    help="seconds to wait for a running cargo/rustc before each measurement "
                         "(default 120)")
    ap.add_argument("--wait-budget", type=float, default=1200,
                    help="seconds of such waiting in all, then measure regardless (default 1200)")
    ap.add_argument("--keep-peer", action="store_true", default=os.environ.get("KEEP_PEER") == "1")
    args = ap.parse_args()

    if os.geteuid() != 0:
        sys.exit("run as root (the peer, Dovecot's /proc entries, ulimit -n)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(args.idle_conns, args.peer_idle_conns) + 1000
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(want, soft)), hard))
    sizes = [int(s) for s in args.sizes.split(",") if s]
    tests = set(args.tests.split(","))
    names = args.servers.split(",")
    WORK.mkdir(parents=True, exist_ok=True)

    servers = []
    if "dovecot" in names:
        servers.append(Peer(args))
    if "postwerk" in names:
        servers.append(Postwerk(args))
    idle_sizes = [int(s) for s in args.idle_sizes.split(",") if s]
    need_sizes = sorted(set(sizes + (idle_sizes if "idle" in tests else [])))

    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    out = Out(stamp, args.populate_only)
    env = dict(started=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               host=socket.gethostname(), cpus=os.cpu_count(), load=f"{loadavg():.2f}")
    try:
        for s in servers:
            if isinstance(s, Peer):
                s.ensure(need_sizes)
            else:
                s.build_if_stale()
                s.start(need_sizes)
            env[s.name] = s.version()
            out.raw(f"SERVER name={s.name} port={s.port} version={s.version().replace(' ', '_')}")
        out.raw("ENV " + fmt_kv(env))
        print("ENV " + fmt_kv(env), flush=True)

        for size in need_sizes:
            if size == 0:
                continue
            print(f"== populate {size}", flush=True)
            for s in servers:
                if populate(s, size, args, out):
                    settle(s, limit=600)
        if args.populate_only:
            return

        results = {}  # (test, key, server) -> data
        for size in sizes if "fetch" in tests else []:
            print(f"== SELECT + FETCH 1:* on {size} messages: 1 warm-up + {args.runs} runs, "
                  "servers alternating", flush=True)
            for s in servers:
                settle(s, limit=120)
            for k in range(args.runs + 1):
                for s in servers:
                    b = wait_for_quiet(args, f"fetch {s.name}")
                    load = loadavg()
                    r = fetch_run(s, size)
                    line = (f"RESULT test=fetch server={s.name} size={size} run={k} "
                            f"{'warmup=1 ' if k == 0 else ''}{fmt_kv(r)} load={load:.2f} build={int(b)}")
                    print("  " + line, flush=True)
                    out.raw(line)
                    if r["responses"] != size or r["exists"] != size:
                        print(f"  !! {s.name}: {r['responses']} FETCH responses, EXISTS {r['exists']},"
                              f" expected {size}", flush=True)
                    if k:
                        results.setdefault(("fetch", size, s.name), []).append(r)

        for size in sizes if "search" in tests else []:
            for word, kind in [(HIT_WORD, "few"), (NONE_WORD, "none")]:
                expect = hits_expected(size) if kind == "few" else 0
                print(f"== UID SEARCH TEXT {word} on {size} messages (expect {expect} hits)",
                      flush=True)
                for s in servers:
                    b = wait_for_quiet(args, f"search {s.name}")
                    load = loadavg()
                    for r in search_runs(s, size, word, args.runs):
                        line = (f"RESULT test=search server={s.name} size={size} word={word} "
                                f"expect={expect} {'warmup=1 ' if r['run'] == 0 else ''}"
                                f"{fmt_kv(r)} load={load:.2f} build={int(b)}")
                        print("  " + line, flush=True)
                        out.raw(line)
                        if r["hits"] != expect:
                            print(f"  !! {s.name}: {r['hits']} hits, expected {expect}", flush=True)
                        if r["run"]:
                            results.setdefault(("search-" + kind, size, s.name), []).append(r)

        if "login" in tests:
            print(f"== connect + TLS + LOGIN: {args.login_warmup} warm-up + {args.logins} logins",
                  flush=True)
            for s in servers:
                b = wait_for_quiet(args, f"login {s.name}")
                load = loadavg()
                rs = login_runs(s, args.logins, args.login_warmup)
                summary = {f"{k}_{q}": f(rs_k) for k in ("total_ms", "tls_ms", "greeting_ms", "login_ms")
                           for rs_k in [[r[k] for r in rs]]
                           for q, f in (("p50", med), ("p90", lambda x: pct(x, 0.9)))}
                line = (f"RESULT test=login server={s.name} n={len(rs)} {fmt_kv(summary)} "
                        f"load={load:.2f} build={int(b)}")
                print("  " + line, flush=True)
                out.raw(line)
                for r in rs:
                    out.raw(f"LOGIN server={s.name} {fmt_kv(r)}")
                results[("login", 0, s.name)] = rs

        for size in idle_sizes if "idle" in tests else []:
            for s in servers:
                n = args.peer_idle_conns if isinstance(s, Peer) else args.idle_conns
                print(f"== {n} idle connections on {s.name} (LOGIN, SELECT INBOX of "
                      f"{size} messages, IDLE)", flush=True)
                b = wait_for_quiet(args, f"idle {s.name}")
                load = loadavg()
                r = idle_measure(s, size, n, args, out)
                line = (f"RESULT test=idle server={s.name} size={size} {fmt_kv(r)} "
                        f"load={load:.2f} build={int(b)}")
                print("  " + line, flush=True)
                out.raw(line)
                results[("idle", size, s.name)] = r
                time.sleep(10)  # let Dovecot's processes exit before the next round

        write_md(out, env, args, sizes, idle_sizes, servers, results)
        print(f"\nresults: {out.txt}\n         {out.md}\n")
        print(out.md.read_text())
    finally:
        for s in servers:
            if isinstance(s, Postwerk):
                s.stop()
            elif not args.keep_peer:
                s.stop()


def write_md(out, env, args, sizes, idle_sizes, servers, results):
    names = [s.name for s in servers]
    D, P = "dovecot", "postwerk"
    L = []
    L.append(f"# IMAP benchmark, {env['started']}")
    L.append("")
    L.append(f"Host {env['host']}, {env['cpus']} CPUs, load average {env['load']} at the start. "
             f"Dovecot: {env.get(D, '—')}. Postwerk: {env.get(P, '—')}. "
             f"Raw lines: [{out.txt.name}]({out.txt.name}).")
    L.append("")
    L.append("Times in ms: median of the timed runs (after one warm-up), (fastest–slowest) in "
             "brackets. Ratio: Postwerk / Dovecot.")
    L.append("")
    L.append("| measurement | Dovecot | Postwerk | ratio | goal |")
    L.append("|---|---|---|---|---|")

    def cell(rs, key):
        if not rs:
            return "—", float("nan")
        xs = [r[key] for r in rs]
        return f"{ms(med(xs))} ({ms(min(xs))}–{ms(max(xs))})", med(xs)

    for size in sizes:
        d = results.get(("fetch", size, D))
        p = results.get(("fetch", size, P))
        if d or p:
            dc, dm = cell(d, "total_ms")
            pc, pm = cell(p, "total_ms")
            goal = ""
            if d and p:
                goal = "≤ 0.5× — " + ("met" if pm <= 0.5 * dm else "not met")
            L.append(f"| SELECT + FETCH 1:* (FLAGS UID RFC822.SIZE ENVELOPE), {size:,} msgs | {dc} | "
                     f"**{pc}** | {ratio(pm, dm)} | {goal} |")
            ds, _ = cell(d, "select_ms")
            ps, _ = cell(p, "select_ms")
            L.append(f"| … of which SELECT | {ds} | {ps} | | |")
    for size in sizes:
        for kind, word in (("few", HIT_WORD), ("none", NONE_WORD)):
            d = results.get(("search-" + kind, size, D))
            p = results.get(("search-" + kind, size, P))
            if not (d or p):
                continue
            dc, dm = cell(d, "ms")
            pc, pm = cell(p, "ms")
            hits = (p or d)[0]["hits"]
            goal = ""
            if p and size == 10000:
                goal = "a few ms — " + ("met" if pm <= 5 else "not met")
            L.append(f"| UID SEARCH TEXT {word} ({hits} hits), {size:,} msgs | {dc} | **{pc}** | "
                     f"{ratio(pm, dm)} | {goal} |")
    d = results.get(("login", 0, D))
    p = results.get(("login", 0, P))
    if d or p:
        def lc(rs, key):
            if not rs:
                return "—", float("nan")
            xs = [r[key] for r in rs]
            return f"{ms(med(xs))} / {ms(pct(xs, 0.9))}", med(xs)
        dc, dm = lc(d, "total_ms")
        pc, pm = lc(p, "total_ms")
        goal = f"~5 ms — {'met' if pm <= 5.5 else 'not met'}" if p else ""
        L.append(f"| connect + TLS + LOGIN p50 / p90, {len(p or d)} logins | {dc} | **{pc}** | "
                 f"{ratio(pm, dm)} | {goal} |")
        dt, _ = lc(d, "tls_ms")
        pt, _ = lc(p, "tls_ms")
        L.append(f"| … of which TCP + TLS handshake p50 / p90 | {dt} | {pt} | | |")
        dl, _ = lc(d, "login_ms")
        pl, _ = lc(p, "login_ms")
        L.append(f"| … of which LOGIN → OK p50 / p90 | {dl} | {pl} | | |")
    for size in idle_sizes:
        d = results.get(("idle", size, D))
        p = results.get(("idle", size, P))
        if not (d or p):
            continue
        def ic(r):
            if not r:
                return "—", float("nan")
            s = f"{r['pss_per_conn_kib']:.1f} KiB at {r['open']:,}"
            if r["failed"]:
                s += f" ({r['failed']} failed)"
            return s, r["pss_per_conn_kib"]
        def half(r):
            if not r or "pss_per_conn_second_half_kib" not in r:
                return "—", float("nan")
            return (f"{r['pss_per_conn_second_half_kib']:.1f} KiB "
                    f"({r['open_mid']:,} → {r['open']:,})"), r["pss_per_conn_second_half_kib"]
        dc, dm = ic(d)
        pc, pm = ic(p)
        L.append(f"| PSS per idle connection (SELECT INBOX of {size:,}, IDLE), from the start | "
                 f"{dc} | {pc} | {ratio(pm, dm)} | |")
        # The goal is judged on the second half: what one more connection costs, without what
        # the first ones made once for all.
        dh, dhm = half(d)
        ph, phm = half(p)
        goal = f"< 16 KiB — {'met' if phm < 16 else 'not met'}" if p else ""
        L.append(f"| … the second half's connections alone | {dh} | **{ph}** | "
                 f"{ratio(phm, dhm)} | {goal} |")
        def tot(r):
            if not r:
                return "—"
            return (f"{r['pss_before_kib'] / 1024:.1f} → {r['pss_after_kib'] / 1024:.1f} MiB, "
                    f"{r['procs_before']} → {r['procs_after']} processes")
        L.append(f"| … server PSS before → after | {tot(d)} | {tot(p)} | | |")
    L.append("")
    out.md.write_text("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
