#!/usr/bin/env python3
"""An independent POP3 client for the integration tests in ../pop3.rs, built on Python's poplib
and ssl.

Usage: client.py JSON-ARGS. The arguments name the server ("host", "port"), how TLS starts
("tls": "implicit" | "stls" | "none") and the "steps" to run, each a list such as
["user", "toto@example.com"], ["retr", 1] or ["run", [command...]] (a local program, for a
password change in the middle of a session). Prints one JSON object on stdout: for each step
{"ok": result} or {"err": "-ERR ..."}, plus the capabilities seen before and after TLS.
Message contents are returned base64-encoded, rebuilt with CRLF line ends as sent.

The server's certificate is self-signed, so TLS contexts do not verify it.
"""

import base64
import json
import poplib
import ssl
import subprocess
import sys


def tls_context():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def content(lines):
    """poplib strips the line ends and the byte-stuffing; put the CRLFs back."""
    return base64.b64encode(b"".join(line + b"\r\n" for line in lines)).decode()


def step(client, name, *args):
    if name == "capa":
        return sorted(client.capa().keys())
    if name == "user":
        return text(client.user(args[0]))
    if name == "pass":
        return text(client.pass_(args[0]))
    if name == "auth_plain":
        token = base64.b64encode(f"\0{args[0]}\0{args[1]}".encode()).decode()
        return text(client._shortcmd("AUTH PLAIN " + token))
    if name == "stls":
        return text(client.stls(context=tls_context()))
    if name == "stat":
        return list(client.stat())
    if name == "list":
        _, lines, _ = client.list()
        return [text(line) for line in lines]
    if name == "uidl":
        _, lines, _ = client.uidl()
        return [text(line) for line in lines]
    if name == "retr":
        response, lines, octets = client.retr(args[0])
        return {"response": text(response), "content": content(lines)}
    if name == "top":
        response, lines, _ = client.top(args[0], args[1])
        return {"response": text(response), "content": content(lines)}
    if name == "dele":
        return text(client.dele(args[0]))
    if name == "rset":
        return text(client.rset())
    if name == "noop":
        return text(client.noop())
    if name == "raw":
        return text(client._shortcmd(args[0]))
    if name == "quit":
        return text(client.quit())
    if name == "run":
        return subprocess.run(args[0], capture_output=True).returncode
    raise ValueError(f"unknown step {name}")


def main():
    args = json.loads(sys.argv[1])
    host, port = args["host"], args["port"]
    if args.get("tls") == "implicit":
        client = poplib.POP3_SSL(host, port, context=tls_context(), timeout=60)
    else:
        client = poplib.POP3(host, port, timeout=60)
    out = {"welcome": text(client.getwelcome()), "steps": []}
    for name, *rest in args["steps"]:
        try:
            out["steps"].append({"ok": step(client, name, *rest)})
        except poplib.error_proto as error:
            out["steps"].append({"err": text(error.args[0])})
        except (EOFError, ConnectionError, OSError) as error:
            out["steps"].append({"closed": str(error)})
            break
    print(json.dumps(out))


if __name__ == "__main__":
    main()
