#!/usr/bin/env python3
"""Load driver for the crash-safety tests (issue 10, items 1 and 4): parallel SMTP or IMAP
clients that keep working while the server is killed and restarted under them, and write down
in a journal exactly what the server acknowledged.

    load.py smtp --journal J (--port P | --port-file F) --to a@x,b@x [--conns 16] ...
    load.py imap --journal J (--port P | --port-file F) --user u@x --password pw [--conns 4] ...

The journal is JSON lines, each line flushed and fsynced before the client moves on, so that
the journal never claims less than the server acknowledged (see check.py for what is checked):

  SMTP  {"ev": "ack", "id", "to", "body_sha", "body_len", "attempts"}   250 after the final dot
        {"ev": "inflight", "id", "stage", "error"}    the connection died during a transaction;
              stage "before-dot" (the server cannot have the message) or "after-dot" (it may)
        {"ev": "tempfail", "id", "stage", "reply"}    a 4xx reply (421 on shutdown): retried
        {"ev": "rejected", "id", "reply"}             a 5xx reply: not retried, an error
        {"ev": "abandoned", "id"}                     still unacknowledged at the retry deadline
  IMAP  {"ev": "imap", "op": "append"|"flag"|"move"|"expunge", "id", "folder", "uid",
         "recovered"}                                 the tagged OK of that change
        {"ev": "inflight", "op", "id", "error", "bye"}  the connection died during the change;
              `bye`: the server said `* BYE` first (a shutdown at a command boundary, RFC 9051
              §7.1.5), else the command was cut with no reply at all

Like a real MTA, an SMTP client retries a message whose transaction was cut, including one
whose final dot was sent but whose reply never came; when the server had stored it before dying,
the retry is a duplicate. An IMAP client, which can look, first searches for the effect of a cut
APPEND or MOVE (by Message-ID) before doing it again.

The server may be restarted on another port: with --port-file, every connection reads the
port again. Workers stop taking new messages once --stop-file exists or after --count messages
each, then finish what is pending and exit.
"""

import argparse
import hashlib
import imaplib
import json
import os
import random
import re
import ssl
import smtplib
import sys
import threading
import time


class Journal:
    """Append-only JSON lines, each fsynced before write() returns."""

    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()

    def write(self, **record):
        line = json.dumps(record, sort_keys=True) + "\n"
        with self.lock:
            self.file.write(line)
            self.file.flush()
            os.fsync(self.file.fileno())


class Endpoint:
    """Where the server listens now: a fixed port, or one re-read from a file at each connect."""

    def __init__(self, host, port, port_file):
        self.host, self.port, self.port_file = host, port, port_file

    def current(self):
        if self.port_file:
            try:
                with open(self.port_file, encoding="utf-8") as f:
                    return self.host, int(f.read().strip())
            except (OSError, ValueError):
                return self.host, None
        return self.host, self.port


class Totals:
    """Counters shared by the workers."""

    def __init__(self, names):
        self.lock = threading.Lock()
        self.counts = dict.fromkeys(names, 0)

    def add(self, name):
        with self.lock:
            self.counts[name] += 1


class Control:
    """When to stop taking new work, and how long pending work may still be retried."""

    def __init__(self, args):
        self.stop_file = args.stop_file
        self.count = args.count
        self.retry_deadline = args.retry_deadline
        self.stopped_at = None

    def stopping(self, done):
        stop = (self.count is not None and done >= self.count) or (
            self.stop_file is not None and os.path.exists(self.stop_file)
        )
        if stop and self.stopped_at is None:
            self.stopped_at = time.monotonic()
        return stop

    def give_up(self):
        """Past the deadline for pending work after the stop (a server that never came back)."""
        if self.stopped_at is None and self.stop_file and os.path.exists(self.stop_file):
            self.stopped_at = time.monotonic()
        return (
            self.stopped_at is not None
            and time.monotonic() - self.stopped_at > self.retry_deadline
        )


def filler(seed, size):
    """Deterministic printable body lines of about `size` octets (never starting with '.')."""
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 "
    lines, total = [], 0
    while total < size:
        line = "x" + "".join(rng.choice(alphabet) for _ in range(75))
        lines.append(line)
        total += len(line) + 2
    return lines


def make_message(msg_id, to, size):
    """A message whose body starts with a marker naming it; returns (bytes, body sha, body len)."""
    body_lines = [f"X-Crash-Marker: {msg_id}"] + filler(msg_id, size)
    body = ("\r\n".join(body_lines) + "\r\n").encode("ascii")
    header = (
        f"From: Crash Load <load@sender.test>\r\n"
        f"To: <{to}>\r\n"
        f"Subject: crash load {msg_id}\r\n"
        f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n"
        f"Message-ID: <{msg_id}@crash.test>\r\n"
        f"MIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    ).encode("ascii")
    return header + body, hashlib.sha256(body).hexdigest(), len(body)


def message_size(rng):
    """Mostly small messages (stored inline), one in eight large (a blob file of its own)."""
    return rng.randint(80_000, 120_000) if rng.random() < 0.125 else rng.randint(500, 8_000)


# --- SMTP -----------------------------------------------------------------------------------


class Cut(Exception):
    """The connection died in the middle of a transaction."""

    def __init__(self, stage, error):
        super().__init__(f"{stage}: {error}")
        self.stage, self.error = stage, error


class Refused(Exception):
    """A reply that was not the expected one; `reply` is [code, text]."""

    def __init__(self, stage, reply):
        super().__init__(f"{stage}: {reply}")
        self.stage, self.reply = stage, reply


def reply_of(pair):
    code, text = pair
    return [code, text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)]


def smtp_transaction(client, sender, to, message):
    """MAIL, RCPT, DATA, the message and the final dot, with the stage known at every point."""
    stage = "before-dot"
    try:
        for command, arg, want in (("MAIL", f"FROM:<{sender}>", 250), ("RCPT", f"TO:<{to}>", 250)):
            reply = reply_of(client.docmd(command, arg))
            if reply[0] != want:
                raise Refused(stage, reply)
        reply = reply_of(client.docmd("DATA"))
        if reply[0] != 354:
            raise Refused(stage, reply)
        client.send(message + b".\r\n")
        stage = "after-dot"
        reply = reply_of(client.getreply())
    except (smtplib.SMTPServerDisconnected, OSError) as error:
        raise Cut(stage, str(error)) from error
    if reply[0] != 250:
        raise Refused(stage, reply)


def smtp_worker(n, args, endpoint, control, journal, run, totals):
    rng = random.Random(f"{run}-{n}")
    recipients = args.to.split(",")
    pending = []  # (msg_id, to, message, sha, length, attempts): cut or refused with 4xx
    done, seq, client, sent_on_conn = 0, 0, None, 0
    while True:
        if pending:
            if control.give_up():
                for item in pending:
                    journal.write(ev="abandoned", id=item[0])
                    totals.add("abandoned")
                break
            item = pending.pop(0)
        elif control.stopping(done):
            break
        else:
            seq += 1
            msg_id = f"{run}-c{n}-{seq}"
            to = recipients[seq % len(recipients)]
            message, sha, length = make_message(msg_id, to, message_size(rng))
            item = (msg_id, to, message, sha, length, 0)
        msg_id, to, message, sha, length, attempts = item
        attempts += 1
        if client is None:
            client = smtp_connect(endpoint)
            sent_on_conn = 0
            if client is None:
                pending.insert(0, (msg_id, to, message, sha, length, attempts - 1))
                time.sleep(0.05 + rng.random() * 0.1)
                continue
        try:
            smtp_transaction(client, "load@sender.test", to, message)
            journal.write(ev="ack", id=msg_id, to=to, body_sha=sha, body_len=length, attempts=attempts)
            totals.add("ack")
            done += 1
            sent_on_conn += 1
        except Cut as cut:
            journal.write(ev="inflight", id=msg_id, stage=cut.stage, error=cut.error)
            totals.add("inflight_" + cut.stage.replace("-", "_"))
            pending.append((msg_id, to, message, sha, length, attempts))
            client = close(client)
            continue
        except Refused as refused:
            if 400 <= refused.reply[0] < 500:
                journal.write(ev="tempfail", id=msg_id, stage=refused.stage, reply=refused.reply)
                totals.add("tempfail")
                pending.append((msg_id, to, message, sha, length, attempts))
            else:
                journal.write(ev="rejected", id=msg_id, stage=refused.stage, reply=refused.reply)
                totals.add("rejected")
                done += 1
            client = close(client)
            continue
        if sent_on_conn >= args.per_connection:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                pass
            client = None
    close(client)


def smtp_connect(endpoint):
    host, port = endpoint.current()
    if port is None:
        return None
    try:
        client = smtplib.SMTP(host, port, timeout=120)
        code, _ = client.ehlo("load.crash.test")
        if code != 250:
            close(client)
            return None
        return client
    except (smtplib.SMTPException, OSError):
        return None


def close(client):
    if client is not None:
        try:
            client.close()
        except (smtplib.SMTPException, OSError, imaplib.IMAP4.error):
            pass
    return None


# --- IMAP -----------------------------------------------------------------------------------

FOLDERS = ("CrashA", "CrashB")
APPENDUID = re.compile(rb"APPENDUID (\d+) (\d+)")
COPYUID = re.compile(rb"COPYUID \d+ \S+ (\d+)")
DROPPED = (imaplib.IMAP4.abort, OSError, EOFError)


class Lost(Exception):
    """The connection is gone; the change may or may not have happened."""


def imap_connect(endpoint, args):
    host, port = endpoint.current()
    if port is None:
        return None
    try:
        client = imaplib.IMAP4(host, port, timeout=120)
        # Both servers refuse LOGIN in clear (RFC 9051 §11.1); the certificates are self-signed.
        client.starttls(ssl_context=unverified_tls())
        client.login(args.user, args.password)
        return client
    except (imaplib.IMAP4.error, *DROPPED):
        return None


def unverified_tls():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def ok(result, what):
    typ, data = result
    if typ != "OK":
        raise imaplib.IMAP4.error(f"{what}: {typ} {data!r}")
    return data


def find(client, folder, msg_id):
    """The UID of the message with this Message-ID in `folder`, or None."""
    ok(client.select(folder), "SELECT")
    data = ok(client.uid("SEARCH", "HEADER", "Message-ID", f"<{msg_id}@crash.test>"), "SEARCH")
    uids = b" ".join(data).split()
    return int(uids[0]) if uids else None


def imap_step(client, op, state):
    """Performs one change of a message's life; returns the journal fields of its OK.

    `state` holds the message's id, folder and UID as last acknowledged, and `cut` when the
    previous attempt at this step lost its connection (then the effect is looked for first).
    """
    msg_id, cut = state["id"], state.get("cut", False)
    if op == "append":
        if cut and (uid := find(client, "CrashA", msg_id)) is not None:
            return {"folder": "CrashA", "uid": uid, "recovered": True}
        data = ok(client.append("CrashA", None, None, state["message"]), "APPEND")
        match = APPENDUID.search(b" ".join(d for d in data if isinstance(d, bytes)))
        if not match:
            raise imaplib.IMAP4.error("APPEND answered OK without APPENDUID")
        return {"folder": "CrashA", "uid": int(match.group(2)), "recovered": False}
    if op == "flag":
        ok(client.select(state["folder"]), "SELECT")
        ok(client.uid("STORE", str(state["uid"]), "+FLAGS", "(\\Flagged)"), "STORE")
        return {"folder": state["folder"], "uid": state["uid"], "recovered": False}
    if op == "move":
        if cut and (uid := find(client, "CrashB", msg_id)) is not None:
            return {"folder": "CrashB", "uid": uid, "recovered": True}
        ok(client.select("CrashA"), "SELECT")
        data = ok(client.uid("MOVE", str(state["uid"]), "CrashB"), "MOVE")
        codes = [d for d in client.response("COPYUID")[1] or [] if isinstance(d, bytes)]
        codes += [d for d in data if isinstance(d, bytes)]
        match = next((m for m in (COPYUID.search(b"COPYUID " + c) for c in codes) if m), None)
        uid = int(match.group(1)) if match else find(client, "CrashB", msg_id)
        if uid is None:
            raise imaplib.IMAP4.error("MOVE answered OK but the message is not in CrashB")
        return {"folder": "CrashB", "uid": uid, "recovered": False}
    if op == "expunge":
        ok(client.select(state["folder"]), "SELECT")
        ok(client.uid("STORE", str(state["uid"]), "+FLAGS.SILENT", "(\\Deleted)"), "STORE")
        ok(client.uid("EXPUNGE", str(state["uid"])), "UID EXPUNGE")
        return {"folder": state["folder"], "uid": state["uid"], "recovered": False}
    raise ValueError(op)


def said_bye(client):
    """Whether the server sent an untagged BYE on this connection before it ended: imaplib
    keeps it among the untagged responses (and raises `abort` with its text)."""
    return bool(client.untagged_responses.get("BYE"))


def imap_worker(n, args, endpoint, control, journal, run, totals):
    rng = random.Random(f"{run}-{n}")
    done, seq, client = 0, 0, None
    while not control.stopping(done):
        seq += 1
        msg_id = f"{run}-i{n}-{seq}"
        message, sha, length = make_message(msg_id, args.user, message_size(rng))
        ops = ["append", "flag"]
        if rng.random() < 0.5:
            ops.append("move")
        if rng.random() < 0.3:
            ops.append("expunge")
        state = {"id": msg_id, "message": message}
        for op in ops:
            state["cut"] = False
            while True:
                if control.give_up():
                    journal.write(ev="abandoned", id=msg_id, op=op)
                    totals.add("abandoned")
                    return
                if client is None:
                    client = imap_connect(endpoint, args)
                    if client is None:
                        time.sleep(0.05 + rng.random() * 0.1)
                        continue
                try:
                    fields = imap_step(client, op, state)
                except DROPPED as error:
                    journal.write(ev="inflight", op=op, id=msg_id, error=str(error),
                                  bye=said_bye(client))
                    totals.add("inflight")
                    state["cut"] = True
                    client = close(client)
                    continue
                except imaplib.IMAP4.error as error:
                    # A NO or BAD (a server refusing while it shuts down): try again later.
                    journal.write(ev="tempfail", op=op, id=msg_id, error=str(error))
                    totals.add("tempfail")
                    state["cut"] = True
                    client = close(client)
                    continue
                extra = {"body_sha": sha, "body_len": length} if op == "append" else {}
                journal.write(ev="imap", op=op, id=msg_id, **fields, **extra)
                totals.add(op)
                state.update(folder=fields["folder"], uid=fields["uid"])
                break
        done += 1
    if client is not None:
        try:
            client.logout()
        except (imaplib.IMAP4.error, *DROPPED):
            pass


def create_folders(endpoint, args, control):
    """CREATE both folders (an existing one is fine), retrying until the server answers."""
    while not control.give_up():
        client = imap_connect(endpoint, args)
        if client is None:
            time.sleep(0.2)
            continue
        try:
            for folder in FOLDERS:
                client.create(folder)
            client.logout()
            return True
        except DROPPED:
            close(client)
    return False


# --- main -----------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("smtp", "imap"))
    parser.add_argument("--journal", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int)
    parser.add_argument("--port-file")
    parser.add_argument("--conns", type=int)
    parser.add_argument("--to", help="SMTP: comma-separated recipients, used in turn")
    parser.add_argument("--user", help="IMAP: the mailbox to log in to")
    parser.add_argument("--password")
    parser.add_argument("--count", type=int, help="messages per connection, then stop")
    parser.add_argument("--stop-file", help="stop taking new messages once this file exists")
    parser.add_argument("--per-connection", type=int, default=50, help="SMTP: messages, then QUIT")
    parser.add_argument("--retry-deadline", type=float, default=300.0,
                        help="seconds after the stop to keep retrying pending messages")
    parser.add_argument("--run", default=None, help="id prefix (default: random)")
    args = parser.parse_args()
    if (args.port is None) == (args.port_file is None):
        parser.error("give exactly one of --port and --port-file")
    if args.count is None and args.stop_file is None:
        parser.error("give --count or --stop-file")
    if args.mode == "smtp" and not args.to:
        parser.error("smtp needs --to")
    if args.mode == "imap" and not (args.user and args.password):
        parser.error("imap needs --user and --password")
    conns = args.conns or (16 if args.mode == "smtp" else 4)
    run = args.run or os.urandom(4).hex()
    endpoint = Endpoint(args.host, args.port, args.port_file)
    control = Control(args)
    journal = Journal(args.journal)
    journal.write(ev="start", mode=args.mode, run=run, conns=conns)
    totals = Totals(("ack", "inflight", "inflight_before_dot", "inflight_after_dot", "tempfail",
                     "rejected", "abandoned", "append", "flag", "move", "expunge"))
    if args.mode == "imap" and not create_folders(endpoint, args, control):
        print("error: the IMAP server never answered; no folders created", file=sys.stderr)
        return 1
    worker = smtp_worker if args.mode == "smtp" else imap_worker
    threads = [
        threading.Thread(target=worker, args=(n, args, endpoint, control, journal, run, totals),
                         daemon=True)
        for n in range(conns)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    journal.write(ev="end", **totals.counts)
    print(json.dumps({"run": run, **{k: v for k, v in totals.counts.items() if v}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
