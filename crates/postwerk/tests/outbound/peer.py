#!/usr/bin/env python3
"""A scripted SMTP peer for the outbound tests in ../outbound.rs: an independent receiving
server whose answers the test chooses, to produce the temporary failures a real MX gives.

Usage: peer.py MODE DIR. Listens on 127.0.0.1 (port printed on stdout, one line), serves
connections one after another until killed, and writes every message it accepts to DIR/N.eml
and its envelope to DIR/N.json ({"mail_from": ..., "rcpt_to": [...]}).
MODE: "stall" accepts connections, writes DIR/connected and never answers (a client caught
mid-attempt); "accept" accepts everything; "accept-utf8" also offers SMTPUTF8 (RFC 6531) and DSN and
keeps the MAIL and RCPT parameters in the envelope ("mail_params", "rcpt_params");
"defer-once" answers the first RCPT of the first session 451 4.7.1 (as greylisting does) and
accepts afterwards; "defer-always" answers every RCPT 451 4.3.0.
Plain text only (no STARTTLS advertised): the client must then deliver without TLS.
"""

import json
import os
import re
import socket
import sys


def serve(conn, mode, state, out_dir):
    f = conn.makefile("rb")

    def send(line):
        conn.sendall(line.encode() + b"\r\n")

    send("220 peer.test ESMTP scripted")
    accepted = 0
    envelope = {"mail_from": None, "rcpt_to": []}

    def path_of(line):
        found = re.search(rb"<([^>]*)>", line)
        return found.group(1).decode("utf-8", "replace") if found else ""

    def params_of(line):
        """The ESMTP parameters after the path, as sent."""
        return line.split(b">", 1)[-1].decode("utf-8", "replace").split()

    while True:
        line = f.readline()
        if not line:
            return
        verb = line[:4].upper()
        if verb in (b"EHLO",):
            send("250-peer.test")
            send("250-PIPELINING")
            if mode == "accept-utf8":
                send("250-SMTPUTF8")
                send("250-DSN")
            send("250 8BITMIME")
        elif verb == b"HELO":
            send("250 peer.test")
        elif verb == b"MAIL":
            accepted = 0
            envelope = {"mail_from": path_of(line), "rcpt_to": []}
            if mode == "accept-utf8":
                envelope["mail_params"] = params_of(line)
                envelope["rcpt_params"] = []
            send("250 2.1.0 ok")
        elif verb == b"RCPT":
            defer = mode == "defer-always" or (mode == "defer-once" and state["deferred"] == 0)
            if defer:
                state["deferred"] += 1
                send("451 4.7.1 try again later" if mode == "defer-once" else "451 4.3.0 busy")
            else:
                accepted += 1
                envelope["rcpt_to"].append(path_of(line))
                if mode == "accept-utf8":
                    envelope["rcpt_params"].append(params_of(line))
                send("250 2.1.5 ok")
        elif verb == b"DATA":
            if accepted == 0:
                send("554 5.5.1 no valid recipients")
                continue
            send("354 go ahead")
            data = bytearray()
            while True:
                chunk = f.readline()
                if not chunk or chunk == b".\r\n":
                    break
                data += chunk[1:] if chunk.startswith(b"..") else chunk
            state["messages"] += 1
            with open(os.path.join(out_dir, f"{state['messages']}.json"), "w") as out:
                json.dump(envelope, out)
            # The message last: the test counts .eml files, so the envelope is there first.
            with open(os.path.join(out_dir, f"{state['messages']}.eml"), "wb") as out:
                out.write(bytes(data))
            send("250 2.0.0 queued as P%d" % state["messages"])
        elif verb == b"RSET":
            send("250 2.0.0 ok")
        elif verb == b"NOOP":
            send("250 2.0.0 ok")
        elif verb == b"QUIT":
            send("221 2.0.0 bye")
            return
        else:
            send("502 5.5.1 not implemented")


def main():
    mode, out_dir = sys.argv[1], sys.argv[2]
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    print(server.getsockname()[1], flush=True)
    state = {"deferred": 0, "messages": 0}
    stalled = []
    while True:
        conn, _ = server.accept()
        if mode == "stall":
            open(os.path.join(out_dir, "connected"), "w").close()
            stalled.append(conn)
            continue
        try:
            serve(conn, mode, state, out_dir)
        except OSError:
            pass
        finally:
            conn.close()


if __name__ == "__main__":
    main()
