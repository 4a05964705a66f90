#!/usr/bin/env python3
"""Load and exhaustion (issue 10 item 3): many concurrent IMAP sessions held open plus a steady
SMTP load, for a given time, while the server's memory is sampled.

Usage: load.py JSON-ARGS. Prints one JSON object with the figures on stdout.

IMAP: `imap_conns` sessions over implicit TLS (asyncio streams), spread over `mailboxes`
logins and over the source addresses 127.0.0.1 … 127.0.0.`sources` (so that the per-address
connection limit is met as a real population of clients would meet it). Each logs in, selects
INBOX, then every `noop_every` seconds (jittered) sends NOOP and reads the tagged answer: a
session that fails to connect, log in or answer counts as an error, with its reason.
SMTP: `smtp_threads` threads deliver small messages over the MX listener (smtplib) to the
mailboxes, one transaction after another; every reply but 250 is an error.
Memory: VmRSS and VmHWM of `pid` from /proc every `sample_every` seconds.
"""

import asyncio
import json
import multiprocessing
import random
import smtplib
import ssl
import sys
import threading
import time


def tls_context():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class Figures:
    def __init__(self):
        self.lock = threading.Lock()
        self.errors = {}
        self.counts = {}

    def error(self, kind, why):
        with self.lock:
            key = f"{kind}: {why}"[:160]
            self.errors[key] = self.errors.get(key, 0) + 1

    def count(self, name, n=1):
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + n


async def read_tagged(reader, tag):
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        if line.startswith(tag + b" "):
            return line


async def imap_session(args, number, figures, deadline, connected):
    mailbox = number % args["mailboxes"]
    source = f"127.0.0.{1 + number % args['sources']}"
    try:
        reader, writer = await asyncio.open_connection(
            args["host"], args["imaps_port"], ssl=tls_context(),
            local_addr=(source, 0),
        )
    except Exception as error:  # noqa: BLE001 - every failure is a figure
        figures.error("imap connect", type(error).__name__ + " " + str(error))
        connected.release()
        return
    try:
        greeting = await reader.readline()
        if not greeting.startswith(b"* OK"):
            raise RuntimeError(greeting.decode(errors="replace").strip())
        login = f"a LOGIN load{mailbox}@example.test {args['password']}\r\n".encode()
        writer.write(login)
        answer = await read_tagged(reader, b"a")
        if not answer.startswith(b"a OK"):
            raise RuntimeError("login: " + answer.decode(errors="replace").strip())
        writer.write(b"b SELECT INBOX\r\n")
        answer = await read_tagged(reader, b"b")
        if not answer.startswith(b"b OK"):
            raise RuntimeError("select: " + answer.decode(errors="replace").strip())
        figures.count("imap_sessions_up")
    except Exception as error:  # noqa: BLE001
        figures.error("imap login", type(error).__name__ + " " + str(error))
        connected.release()
        writer.close()
        return
    connected.release()
    tag = 0
    try:
        while time.monotonic() < deadline:
            await asyncio.sleep(args["noop_every"] * random.uniform(0.5, 1.5))
            tag += 1
            label = f"n{tag}".encode()
            writer.write(label + b" NOOP\r\n")
            answer = await asyncio.wait_for(read_tagged(reader, label), timeout=60)
            if not answer.startswith(label + b" OK"):
                raise RuntimeError("noop: " + answer.decode(errors="replace").strip())
            figures.count("imap_noops")
        writer.write(b"z LOGOUT\r\n")
        await asyncio.wait_for(read_tagged(reader, b"z"), timeout=60)
        figures.count("imap_sessions_completed")
    except Exception as error:  # noqa: BLE001
        figures.error("imap session", type(error).__name__ + " " + str(error))
    finally:
        writer.close()


async def imap_load(args, figures, deadline):
    # At most 200 handshakes at once: a ramp, not a thundering herd.
    connected = asyncio.Semaphore(200)
    sessions = []
    for number in range(args.get("first", 0), args.get("first", 0) + args["imap_conns"]):
        await connected.acquire()
        if time.monotonic() >= deadline:
            figures.error("imap", "not started before the end of the run (the ramp was too slow)")
            continue
        sessions.append(asyncio.create_task(imap_session(args, number, figures, deadline, connected)))
    await asyncio.gather(*sessions)


def smtp_load(args, figures, deadline, thread):
    body = "Load test line.\r\n" * 40
    sent = 0
    while time.monotonic() < deadline:
        try:
            client = smtplib.SMTP(args["host"], args["smtp_port"], timeout=60)
            client.ehlo("load.example")
            for _ in range(50):
                if time.monotonic() >= deadline:
                    break
                sent += 1
                rcpt = f"load{random.randrange(args['mailboxes'])}@example.test"
                message = (
                    f"From: <sender@remote.example>\r\nTo: <{rcpt}>\r\n"
                    f"Subject: load {thread}-{sent}\r\nMessage-ID: <{thread}.{sent}@remote.example>\r\n"
                    f"Date: Thu, 26 Nov 2026 12:00:00 +0000\r\n\r\n{body}"
                )
                refused = client.sendmail("sender@remote.example", [rcpt], message)
                if refused:
                    figures.error("smtp", f"refused {refused!r}"[:120])
                else:
                    figures.count("smtp_accepted")
            client.quit()
        except smtplib.SMTPResponseException as error:
            figures.error("smtp", f"{error.smtp_code} {error.smtp_error[:80]!r}")
        except smtplib.SMTPRecipientsRefused as error:
            figures.error("smtp", f"refused {list(error.recipients.values())[0]!r}"[:120])
        except Exception as error:  # noqa: BLE001
            figures.error("smtp", type(error).__name__ + " " + str(error))
            time.sleep(0.5)


def memory(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                fields[key] = int(value.split()[0])
    return fields


def open_sessions(args):
    """Established connections to the IMAPS port, counted by the kernel (the client processes
    keep their own counts, which the sampler cannot see)."""
    port = f"{args['imaps_port']:04X}"
    established = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as rows:
                for row in rows.readlines()[1:]:
                    fields = row.split()
                    if fields[1].endswith(":" + port) and fields[3] == "01":
                        established += 1
        except OSError:
            pass
    return established


def sampler(args, figures, deadline, samples):
    start = time.monotonic()
    while time.monotonic() < deadline:
        try:
            sample = memory(args["pid"])
        except OSError as error:
            figures.error("server", f"process gone: {error}")
            return
        sample["t"] = round(time.monotonic() - start)
        sample["imap_up"] = open_sessions(args)
        sample["smtp_accepted"] = figures.counts.get("smtp_accepted", 0)
        samples.append(sample)
        time.sleep(args["sample_every"])


def imap_worker(args, first, count, deadline, results):
    """One client process's share of the IMAP sessions (one asyncio loop per process: a
    single Python process cannot open thousands of TLS sessions fast enough)."""
    figures = Figures()
    asyncio.run(imap_load(dict(args, first=first, imap_conns=count), figures, deadline))
    results.put((figures.counts, figures.errors))


def main():
    args = json.loads(sys.argv[1])
    figures = Figures()
    deadline = time.monotonic() + args["seconds"]
    samples = []
    threads = [threading.Thread(target=sampler, args=(args, figures, deadline, samples), daemon=True)]
    for n in range(args["smtp_threads"]):
        threads.append(threading.Thread(target=smtp_load, args=(args, figures, deadline, n), daemon=True))
    results = multiprocessing.Queue()
    share = -(-args["imap_conns"] // args["client_processes"])
    workers = [
        multiprocessing.Process(
            target=imap_worker,
            args=(args, first, min(share, args["imap_conns"] - first), deadline, results),
        )
        for first in range(0, args["imap_conns"], share)
    ]
    for worker in workers:
        worker.start()
    for t in threads:
        t.start()
    for _ in workers:
        counts, errors = results.get()
        for name, n in counts.items():
            figures.count(name, n)
        for key, n in errors.items():
            with figures.lock:
                figures.errors[key] = figures.errors.get(key, 0) + n
    for worker in workers:
        worker.join()
    for t in threads:
        t.join(timeout=120)
    print(json.dumps({"counts": figures.counts, "errors": figures.errors, "memory": samples}))


if __name__ == "__main__":
    main()
