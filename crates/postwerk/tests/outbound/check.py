#!/usr/bin/env python3
"""Independent checks for ../outbound.rs, with Python's standard `email` package and the
`dkim` module (Debian's python3-dkim), never with Postwerk's own code.

Usage: check.py dsn FILE        -> JSON: the DSN's structure and delivery-status fields
       check.py dkim FILE JSON  -> JSON: {"valid": bool}; JSON maps DNS names to TXT values
"""

import email
import email.policy
import json
import sys


def fields(block):
    """A delivery-status block (RFC 3464 §2.1) as a dict of lower-case field names."""
    out = {}
    for name, value in block.items():
        out[name.lower()] = " ".join(str(value).split())
    return out


def dsn(path):
    with open(path, "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.compat32)
    out = {
        "content_type": msg.get_content_type(),
        "report_type": msg.get_param("report-type"),
        "from": msg["From"],
        "to": msg["To"],
        "subject": msg["Subject"],
        "auto_submitted": msg["Auto-Submitted"],
        "parts": [],
    }
    for part in msg.get_payload():
        ctype = part.get_content_type()
        entry = {"type": ctype}
        if ctype == "text/plain":
            entry["text"] = part.get_payload(decode=True).decode("utf-8", "replace")
        elif ctype == "message/delivery-status":
            blocks = part.get_payload()
            entry["message"] = fields(blocks[0])
            entry["recipients"] = [fields(b) for b in blocks[1:]]
        elif ctype == "message/rfc822":
            inner = part.get_payload()[0]
            entry["subject"] = inner["Subject"]
        elif ctype == "text/rfc822-headers":
            entry["text"] = part.get_payload(decode=True).decode("utf-8", "replace")
        out["parts"].append(entry)
    return out


def dkim_check(path, records):
    import dkim

    with open(path, "rb") as f:
        message = f.read()

    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        value = records.get(name.rstrip("."))
        return value.encode() if value is not None else None

    return {"valid": bool(dkim.verify(message, dnsfunc=dnsfunc))}


def main():
    if sys.argv[1] == "dsn":
        result = dsn(sys.argv[2])
    else:
        result = dkim_check(sys.argv[2], json.loads(sys.argv[3]))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
