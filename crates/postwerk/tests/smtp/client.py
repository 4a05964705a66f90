#!/usr/bin/env python3
"""An independent SMTP client for the integration tests in ../smtp.rs, built on Python's
smtplib and ssl (and raw sockets where a test must send bytes smtplib would never send).

Usage: client.py SCENARIO JSON-ARGS. Prints one JSON object on stdout; the Rust test asserts on
it. The server's certificate is self-signed, so TLS contexts do not verify it.
"""

import base64
import json
import smtplib
import socket
import ssl
import subprocess
import sys


def tls_context():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def connect(args):
    """An smtplib client per args: tls = "none" | "starttls" | "implicit"."""
    host, port = args["host"], args["port"]
    if args.get("tls") == "implicit":
        client = smtplib.SMTP_SSL(host, port, context=tls_context(), timeout=60)
    else:
        client = smtplib.SMTP(host, port, timeout=60)
    client.ehlo("client.example")
    if args.get("tls") == "starttls":
        client.starttls(context=tls_context())
        client.ehlo("client.example")
    return client


def reply(pair):
    code, message = pair
    return [code, message.decode("utf-8", "replace")]


def login(client, args):
    """AUTH with the mechanism asked for; returns [code, text]."""
    client.user, client.password = args["user"], args["password"]
    mechanism = args.get("mechanism", "PLAIN")
    method = client.auth_plain if mechanism == "PLAIN" else client.auth_login
    try:
        return reply(client.auth(mechanism, method, initial_response_ok=mechanism == "PLAIN"))
    except smtplib.SMTPAuthenticationError as error:
        return [error.smtp_code, error.smtp_error.decode("utf-8", "replace")]
    except smtplib.SMTPNotSupportedError as error:
        return [0, str(error)]


def transaction(client, args):
    """MAIL, every RCPT, DATA: the reply to each."""
    out = {"mail": reply(client.mail(args["from"], args.get("mail_options", [])))}
    if out["mail"][0] != 250:
        client.rset()
        return out
    out["rcpt"] = [reply(client.rcpt(to, args.get("rcpt_options", []))) for to in args["to"]]
    if not any(code == 250 for code, _ in out["rcpt"]):
        client.rset()
        return out
    message = args["message"].encode("utf-8", "surrogateescape")
    out["data"] = reply(client.data(message))
    return out


def scenario_ehlo(args):
    """The capabilities before and after TLS."""
    host, port = args["host"], args["port"]
    out = {}
    if args.get("tls") == "implicit":
        client = smtplib.SMTP_SSL(host, port, context=tls_context(), timeout=60)
        client.ehlo("client.example")
        out["tls"] = sorted(client.esmtp_features)
        out["auth"] = client.esmtp_features.get("auth", "").split()
        client.quit()
        return out
    client = smtplib.SMTP(host, port, timeout=60)
    client.ehlo("client.example")
    out["plain"] = sorted(client.esmtp_features)
    out["plain_size"] = client.esmtp_features.get("size", "")
    client.starttls(context=tls_context())
    client.ehlo("client.example")
    out["tls"] = sorted(client.esmtp_features)
    out["auth"] = client.esmtp_features.get("auth", "").split()
    client.quit()
    return out


def scenario_send(args):
    """Connect, optionally authenticate, run transactions, QUIT."""
    client = connect(args)
    out = {}
    if "user" in args:
        out["auth"] = login(client, args)
    out["transactions"] = []
    for tx in args.get("transactions", [args] if "from" in args else []):
        try:
            out["transactions"].append(transaction(client, tx))
        except smtplib.SMTPServerDisconnected as error:
            out["transactions"].append({"disconnected": str(error)})
            return out
        except smtplib.SMTPResponseException as error:
            out["transactions"].append(
                {"error": [error.smtp_code, error.smtp_error.decode("utf-8", "replace")]}
            )
    try:
        client.quit()
    except smtplib.SMTPServerDisconnected:
        pass
    return out


def scenario_auth_before_tls(args):
    """AUTH on a plain connection, sent by hand since smtplib sees no AUTH capability."""
    client = smtplib.SMTP(args["host"], args["port"], timeout=60)
    client.ehlo("client.example")
    token = base64.b64encode(f"\0{args['user']}\0{args['password']}".encode()).decode()
    auth = reply(client.docmd("AUTH", "PLAIN " + token))
    mail = reply(client.docmd("MAIL", "FROM:<" + args["user"] + ">"))
    client.quit()
    return {"auth": auth, "mail": mail}


def scenario_password_change(args):
    """ID-6: log in, send one message, let the password change, try another transaction."""
    client = connect(args)
    out = {"auth": login(client, args)}
    out["first"] = transaction(client, args)
    changed = subprocess.run(args["passwd_command"], capture_output=True, text=True)
    out["passwd_status"] = changed.returncode
    try:
        out["second_mail"] = reply(client.docmd("MAIL", "FROM:<" + args["from"] + ">"))
    except smtplib.SMTPServerDisconnected as error:
        out["second_mail"] = [0, str(error)]
    try:
        client.noop()
        out["still_connected"] = True
    except (smtplib.SMTPServerDisconnected, OSError):
        out["still_connected"] = False
    return out


class Raw:
    """A bare socket speaking SMTP, for bytes smtplib would never send."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=60)
        self.buffer = b""

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        """One (possibly multi-line) reply: [code, last line]."""
        while True:
            line = self.line()
            if len(line) < 4 or line[3] != "-":
                return [int(line[:3]), line]

    def replies(self, count):
        return [self.reply() for _ in range(count)]


def scenario_raw(args):
    """Sends each step's bytes (latin-1 text with \\r and \\n as written) in one write, then
    reads the number of replies it expects. Records replies; stops at a closed connection."""
    raw = Raw(args["host"], args["port"])
    out = {"greeting": raw.reply(), "steps": []}
    for step in args["steps"]:
        raw.send(step["send"].encode("latin-1"))
        try:
            out["steps"].append(raw.replies(step["expect"]))
        except (EOFError, OSError) as error:
            out["steps"].append({"closed": str(error)})
            break
    return out


SCENARIOS = {
    "ehlo": scenario_ehlo,
    "send": scenario_send,
    "auth_before_tls": scenario_auth_before_tls,
    "password_change": scenario_password_change,
    "raw": scenario_raw,
}

if __name__ == "__main__":
    result = SCENARIOS[sys.argv[1]](json.loads(sys.argv[2]))
    json.dump(result, sys.stdout)
