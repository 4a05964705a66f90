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
        # Read from bytes, UTF-8 (RFC 6533) arrives as surrogate escapes: decode it.
        text = str(value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        out[name.lower()] = " ".join(text.split())
    return out


def global_blocks(part):
    """The blocks of a message/global-delivery-status part (RFC 6533 §6.2). The email package
    knows the block structure only of message/delivery-status; it reads this type as one
    message whose header is the first block and whose body holds the others."""
    inner = part.get_payload()[0]
    rest = inner.get_payload(decode=True).decode("utf-8", "replace")
    blocks = [b for b in rest.replace("\r\n", "\n").split("\n\n") if b.strip()]
    return [inner] + [email.message_from_string(b, policy=email.policy.compat32) for b in blocks]


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
        elif ctype in ("message/delivery-status", "message/global-delivery-status"):
            if ctype == "message/delivery-status":
                blocks = part.get_payload()
            else:
                blocks = global_blocks(part)
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
