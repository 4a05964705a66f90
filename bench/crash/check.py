#!/usr/bin/env python3
"""Checker for the crash-safety tests: compares load.py's journal with what the mailboxes hold,
read over IMAP (independent of the server's store, so it works for Dovecot too).

    check.py smtp --journal J --port P --login user:password [--login ...] [--sigterm]
    check.py imap --journal J --port P --login user:password [--sigterm]

Prints one JSON object of figures and exits 1 when an acknowledged promise was broken:

  SMTP  acknowledged   messages that got 250 after their final dot
        lost           acknowledged but in no mailbox
        duplicated     extra copies of a Message-ID; split into `duplicated_retried` (the
                       message was in flight after its final dot, its reply was lost and the
                       client sent it again: the server had stored it before dying) and
                       `duplicated_unexplained` (anything else: a bug)
        corrupted      a copy whose body is not, octet for octet, the body that was sent
        stored_unacknowledged  in a mailbox without a 250 (in flight when the server died, and
                       given up or refused afterwards); not a broken promise, reported
        foreign        messages in the mailboxes that this run did not send (should be 0)
        silent_drops   (--sigterm) transactions cut after the final dot with no reply at all:
                       on a graceful shutdown every one must get 250 or a 4xx (421)
  IMAP  per change (append, flag, move, expunge): acknowledged and not persisted, plus
        duplicated and corrupted as above.
        cut_after_bye  (--sigterm) changes whose connection ended after the server's `* BYE`
                       (a shutdown at a command boundary): retried, not a broken promise
        silent_drops   (--sigterm) changes whose connection ended with neither a tagged reply
                       nor a `* BYE`: a graceful shutdown answers the command under way first

Duplicates of retried messages are reported, not treated as failures, unless
--strict-duplicates is given; everything else listed above as a bug fails the check.
"""

import argparse
import collections
import hashlib
import imaplib
import json
import re
import ssl
import sys

MESSAGE_ID = re.compile(rb"Message-ID:\s*<([^>@]+)@crash\.test>", re.IGNORECASE)
FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")
UID = re.compile(rb"UID (\d+)")
CHUNK = 500


def read_journal(path):
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                # A line cut by a crash of the driver itself can only be the last one.
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return records


def ok(result, what):
    typ, data = result
    if typ != "OK":
        raise SystemExit(f"error: the server refused {what}: {typ} {data!r}")
    return data


def literals_by_seq(data):
    """{sequence number: literal} from an imaplib FETCH answer with one literal per message."""
    out = {}
    for item in data:
        if isinstance(item, tuple):
            seq = int(item[0].split(b" ", 1)[0])
            out[seq] = item[1]
    return out


def read_folder(client, folder):
    """Every message of `folder`: dicts with uid, flags, id (None if not ours), body."""
    typ, data = client.select(f'"{folder}"', readonly=True)
    if typ != "OK":
        return []
    count = int(data[0])
    messages = []
    for start in range(1, count + 1, CHUNK):
        span = f"{start}:{min(start + CHUNK - 1, count)}"
        meta = ok(client.fetch(span, "(UID FLAGS)"), "FETCH FLAGS")
        headers = literals_by_seq(
            ok(client.fetch(span, "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"), "FETCH header")
        )
        bodies = literals_by_seq(ok(client.fetch(span, "(BODY.PEEK[TEXT])"), "FETCH body"))
        for line in meta:
            if not isinstance(line, bytes):
                continue
            seq = int(line.split(b" ", 1)[0])
            found = MESSAGE_ID.search(headers.get(seq, b""))
            flags = FLAGS.search(line)
            messages.append({
                "folder": folder,
                "uid": int(UID.search(line).group(1)),
                "flags": set(flags.group(1).decode().split()) if flags else set(),
                "id": found.group(1).decode() if found else None,
                "body": bodies.get(seq, b""),
            })
    return messages


def read_mailbox(host, port, login, folders):
    user, password = login.split(":", 1)
    client = imaplib.IMAP4(host, port, timeout=300)
    # Both servers refuse LOGIN in clear (RFC 9051 §11.1); the certificates are self-signed.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    client.starttls(ssl_context=context)
    ok(client.login(user, password), "LOGIN")
    messages = []
    for folder in folders:
        messages += read_folder(client, folder)
    client.logout()
    return messages


def body_ok(message, expected):
    body = message["body"]
    return (
        len(body) == expected["body_len"]
        and hashlib.sha256(body).hexdigest() == expected["body_sha"]
        and body.startswith(f"X-Crash-Marker: {message['id']}\r\n".encode())
    )


def sample(items, n=10):
    return sorted(items)[:n]


def check_smtp(records, messages, sigterm):
    run = next((r["run"] for r in records if r["ev"] == "start"), "")
    acked = {r["id"]: r for r in records if r["ev"] == "ack"}
    sent_after_dot = {r["id"] for r in records if r["ev"] == "inflight" and r["stage"] == "after-dot"}
    cut_before_dot = sum(1 for r in records if r["ev"] == "inflight" and r["stage"] == "before-dot")
    copies = collections.defaultdict(list)
    foreign = 0
    for message in messages:
        if message["id"] and message["id"].startswith(run + "-"):
            copies[message["id"]].append(message)
        else:
            foreign += 1
    lost = [m for m in acked if m not in copies]
    extra_retried = sum(len(c) - 1 for m, c in copies.items() if len(c) > 1 and m in sent_after_dot)
    extra_other = sum(len(c) - 1 for m, c in copies.items() if len(c) > 1 and m not in sent_after_dot)
    corrupted = [
        m for m, c in copies.items() if m in acked and any(not body_ok(x, acked[m]) for x in c)
    ]
    unacked = [m for m in copies if m not in acked]
    unexplained_unacked = [m for m in unacked if m not in sent_after_dot]
    figures = {
        "acknowledged": len(acked),
        "retried_after_dot": len(sent_after_dot),
        "cut_before_dot": cut_before_dot,
        "tempfail_replies": sum(1 for r in records if r["ev"] == "tempfail"),
        "tempfail_421": sum(1 for r in records if r["ev"] == "tempfail" and r["reply"][0] == 421),
        "rejected": sum(1 for r in records if r["ev"] == "rejected"),
        "abandoned": sum(1 for r in records if r["ev"] == "abandoned"),
        "lost": len(lost),
        "duplicated": extra_retried + extra_other,
        "duplicated_retried": extra_retried,
        "duplicated_unexplained": extra_other,
        "corrupted": len(corrupted),
        "stored_unacknowledged": len(unacked),
        "stored_never_sent": len(unexplained_unacked),
        "foreign": foreign,
        "stored_total": len(messages),
    }
    if sigterm:
        figures["silent_drops"] = len(sent_after_dot)
    examples = {"lost": sample(lost), "corrupted": sample(corrupted),
                "stored_never_sent": sample(unexplained_unacked)}
    failed = (
        figures["lost"] or figures["corrupted"] or figures["duplicated_unexplained"]
        or figures["rejected"] or figures["abandoned"] or figures["stored_never_sent"]
        or figures["foreign"] or (sigterm and figures["silent_drops"])
    )
    return figures, examples, bool(failed)


def check_imap(records, messages, sigterm):
    run = next((r["run"] for r in records if r["ev"] == "start"), "")
    expected = {}
    appended_after_cut = set()
    cut = collections.defaultdict(set)
    for r in records:
        if r["ev"] == "inflight":
            cut[r["op"]].add(r["id"])
        if r["ev"] != "imap":
            continue
        state = expected.setdefault(r["id"], {"folder": None, "flagged": False, "gone": False})
        if r["op"] == "append":
            state.update(folder=r["folder"], body_sha=r["body_sha"], body_len=r["body_len"])
            if r["id"] in cut["append"]:
                appended_after_cut.add(r["id"])
        elif r["op"] == "flag":
            state["flagged"] = True
        elif r["op"] == "move":
            state["folder"] = r["folder"]
        elif r["op"] == "expunge":
            state["gone"] = True
    copies = collections.defaultdict(list)
    foreign = 0
    for message in messages:
        if message["id"] and message["id"].startswith(run + "-"):
            copies[message["id"]].append(message)
        else:
            foreign += 1
    broken = collections.defaultdict(list)
    for m, state in expected.items():
        here = copies.get(m, [])
        if state["gone"]:
            if here:
                broken["expunge"].append(m)
            continue
        if not here:
            broken["append"].append(m)
            continue
        if not any(x["folder"] == state["folder"] for x in here):
            broken["move" if state["folder"] == "CrashB" else "append"].append(m)
        elif state["folder"] == "CrashB" and any(x["folder"] == "CrashA" for x in here):
            broken["move"].append(m)
        if state["flagged"] and not all("\\Flagged" in x["flags"] for x in here):
            broken["flag"].append(m)
        if any(not body_ok(x, state) for x in here):
            broken["corrupted"].append(m)
    duplicated = sum(len(c) - 1 for c in copies.values() if len(c) > 1)
    never_acked = [m for m in copies if m not in expected]
    acked = collections.Counter(r["op"] for r in records if r["ev"] == "imap")
    figures = {
        **{f"acknowledged_{op}": acked[op] for op in ("append", "flag", "move", "expunge")},
        "cut_changes": sum(1 for r in records if r["ev"] == "inflight"),
        "recovered_after_cut": sum(1 for r in records if r["ev"] == "imap" and r.get("recovered")),
        **{f"not_persisted_{op}": len(broken[op]) for op in ("append", "flag", "move", "expunge")},
        "corrupted": len(broken["corrupted"]),
        "duplicated": duplicated,
        "stored_unacknowledged": len(never_acked),
        "abandoned": sum(1 for r in records if r["ev"] == "abandoned"),
        "foreign": foreign,
    }
    silent = [r["id"] for r in records if r["ev"] == "inflight" and not r.get("bye")]
    if sigterm:
        figures["cut_after_bye"] = figures["cut_changes"] - len(silent)
        figures["silent_drops"] = len(silent)
    examples = {k: sample(v) for k, v in broken.items()}
    if sigterm:
        examples["silent_drops"] = sample(silent)
    failed = (
        any(broken.values()) or duplicated or never_acked or figures["abandoned"] or foreign
        or (sigterm and silent)
    )
    return figures, examples, bool(failed)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("smtp", "imap"))
    parser.add_argument("--journal", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int)
    parser.add_argument("--port-file")
    parser.add_argument("--login", action="append", required=True, help="user:password")
    parser.add_argument("--sigterm", action="store_true",
                        help="graceful shutdowns only: an SMTP reply lost after the dot, or an "
                             "IMAP command cut with neither a tagged reply nor BYE, fails")
    parser.add_argument("--strict-duplicates", action="store_true")
    args = parser.parse_args()
    port = args.port
    if port is None:
        with open(args.port_file, encoding="utf-8") as f:
            port = int(f.read().strip())
    records = read_journal(args.journal)
    folders = ["INBOX"] if args.mode == "smtp" else ["CrashA", "CrashB"]
    messages = []
    for login in args.login:
        messages += read_mailbox(args.host, port, login, folders)
    if args.mode == "smtp":
        figures, examples, failed = check_smtp(records, messages, args.sigterm)
    else:
        figures, examples, failed = check_imap(records, messages, args.sigterm)
    if args.strict_duplicates and figures["duplicated"]:
        failed = True
    figures["ok"] = not failed
    figures["examples"] = {k: v for k, v in examples.items() if v}
    print(json.dumps(figures, sort_keys=True))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
