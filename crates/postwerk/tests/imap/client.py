#!/usr/bin/env python3
"""An independent IMAP client for the integration tests in ../imap.rs, built on Python's imaplib
and ssl (and the same socket, written by hand, where imaplib has no method: IDLE, COMPRESS,
literals sent exactly as given).

Usage: client.py [JSON-ARGS] (read from stdin when absent). The arguments name the server
("host", "port"), how TLS starts ("tls": "implicit" | "starttls" | "none"; with "starttls" the
test sends the ["starttls"] step itself, so it can look at the session before TLS) and the
"steps" to run, each a list such as ["login", user, password], ["select", "INBOX"] or
["cmd", "UID FETCH 1:* (FLAGS)"].

Prints one JSON object on stdout: the greeting ("welcome") and, for each step, what the server
sent while it ran:
  "status"        OK | NO | BAD of the first tagged response; "closed" when the connection
                  ended before one came; "error" when imaplib (or this script) failed locally;
                  "none" when the step sent no command or got no tagged answer
  "text"          the rest of that tagged line, response code included
  "tagged"        every tagged line (pipelined raw commands have several)
  "untagged"      every untagged response in order, literals inlined (decoded lossily)
  "literals"      every literal's octets, base64-encoded, in order
  "fetches"       every `* n FETCH` parsed: {"seq", "items": {name: IMAP text, strings always
                  quoted}, "bytes": {name: base64 of a string value}, "flags": [...]}, so that
                  byte comparisons do not depend on literal-or-quoted
  "continuations" the "+" lines
  "data"          what a step adds (parsed capabilities, a local program's result, ...)
After a step that ended the connection, the rest are not run.

The server's certificate is self-signed, so TLS contexts do not verify it.
"""

import base64
import imaplib
import json
import queue
import re
import ssl
import subprocess
import sys
import threading
import time
import zlib

# Let the server, not imaplib, decide which command is valid in which state: the tests send
# commands in the wrong state on purpose, and imaplib does not know IDLE, ID or COMPRESS.
ALL_STATES = ("NONAUTH", "AUTH", "SELECTED", "LOGOUT")
for _name in list(imaplib.Commands) + ["ID", "IDLE", "COMPRESS", "ENABLE", "UNSELECT", "MOVE"]:
    imaplib.Commands[_name] = ALL_STATES

LITERAL_AT_END = re.compile(rb"~?\{(\d+)\+?\}$")


# ---- FETCH responses parsed into items, so the tests need not care whether the server sent a
# string as a literal or quoted (RFC 9051 §4.3 lets it choose).

TOKEN = re.compile(
    rb'\s*(?:(?P<open>\()|(?P<close>\))|"(?P<quoted>(?:[^"\\]|\\.)*)"'
    rb'|(?P<literal>~?\{\d+\+?\})$'
    rb'|(?P<atom>[^\s()"\[\]{]*\[[^\]]*\](?:<\d+>)?|[^\s()"\[\]{]+))'
)


def tokens(parts):
    """Tokens of a response whose `parts` alternate line segments and literal octets."""
    out = []
    for i in range(0, len(parts), 2):
        line, pos = parts[i], 0
        while pos < len(line):
            match = TOKEN.match(line, pos)
            if match is None or match.end() == pos:
                if line[pos:].strip():
                    raise ValueError(f"cannot tokenize {line[pos:][:60]!r}")
                break
            pos = match.end()
            if match.group("open"):
                out.append(("open",))
            elif match.group("close"):
                out.append(("close",))
            elif match.group("quoted") is not None:
                value = re.sub(rb"\\(.)", rb"\1", match.group("quoted"))
                out.append(("str", value))
            elif match.group("literal"):
                out.append(("str", parts[i + 1] if i + 1 < len(parts) else b""))
            else:
                out.append(("atom", match.group("atom").decode("utf-8", "replace")))
    return out


def nest(items, index):
    """The value starting at items[index] (a list for "(") and the index after it."""
    token = items[index]
    if token[0] != "open":
        return token, index + 1
    values, index = [], index + 1
    while items[index][0] != "close":
        value, index = nest(items, index)
        values.append(value)
    return ("list", values), index + 1


def render(value):
    """A value as IMAP text, strings always quoted: one spelling whatever the server chose."""
    if value[0] == "atom":
        return value[1]
    if value[0] == "str":
        decoded = text(value[1]).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{decoded}"'
    return "(" + " ".join(render(v) for v in value[1]) + ")"


def parse_fetch(parts):
    """`* n FETCH (...)` as {"seq", "items" (key -> IMAP text), "bytes" (key -> base64 of a
    string value), "flags" (when FLAGS came)}; None for any other response."""
    items = tokens(parts)
    if len(items) < 4 or items[2] != ("atom", "FETCH") or items[0] != ("atom", "*"):
        return None
    attributes, _ = nest(items, 3)
    out = {"seq": int(items[1][1]), "items": {}, "bytes": {}}
    values = attributes[1]
    for key, value in zip(values[0::2], values[1::2]):
        name = key[1].upper()
        out["items"][name] = render(value)
        if value[0] == "str":
            out["bytes"][name] = b64(value[1])
        if name == "FLAGS" and value[0] == "list":
            out["flags"] = [v[1] for v in value[1] if v[0] == "atom"]
    return out


def tls_context():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def b64(value):
    return base64.b64encode(value).decode()


class Recorder:
    """Records every response line and literal imaplib reads, as logical responses (a line,
    its literals and the line that continues after each literal). With COMPRESS active, reads
    and writes go through DEFLATE (RFC 4978)."""

    def start_recording(self):
        self.responses = []
        self.open_literal = False

    def _rec_line(self, line):
        raw = line.rstrip(b"\r\n")
        if getattr(self, "open_literal", False) and self.responses:
            entry = self.responses[-1]
            entry["text"] += text(raw)
            entry["parts"].append(raw)
        else:
            entry = {"text": text(raw), "literals": [], "parts": [raw]}
            self.responses.append(entry)
        self.open_literal = bool(LITERAL_AT_END.search(raw))

    def _rec_literal(self, data):
        if self.responses:
            entry = self.responses[-1]
            entry["text"] += text(data)
            entry["literals"].append(b64(data))
            entry["parts"].append(data)

    # -- transport, with DEFLATE once COMPRESS is active

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self._inflated += self._inflater.decompress(chunk)

    def readline(self):
        if getattr(self, "_inflater", None) is None:
            line = super().readline()
        else:
            while b"\n" not in self._inflated:
                self._fill()
            end = self._inflated.index(b"\n") + 1
            line, self._inflated = self._inflated[:end], self._inflated[end:]
        if not hasattr(self, "responses"):
            self.start_recording()
        self._rec_line(line)
        return line

    def read(self, size):
        if getattr(self, "_inflater", None) is None:
            data = super().read(size)
        else:
            while len(self._inflated) < size:
                self._fill()
            data, self._inflated = self._inflated[:size], self._inflated[size:]
        self._rec_literal(data)
        return data

    def send(self, data):
        if getattr(self, "_deflater", None) is None:
            return super().send(data)
        packed = self._deflater.compress(data) + self._deflater.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(packed)

    def start_compression(self):
        # RFC 4978 §3: raw DEFLATE (no zlib header) both ways, starting right after the OK.
        self._deflater = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        self._inflater = zlib.decompressobj(-15)
        self._inflated = b""


class Client(Recorder, imaplib.IMAP4):
    pass


class ClientSSL(Recorder, imaplib.IMAP4_SSL):
    pass


def connect(args):
    host, port = args["host"], args["port"]
    if args.get("tls") == "implicit":
        return ClientSSL(host, port, ssl_context=tls_context(), timeout=60)
    return Client(host, port, timeout=60)


def capabilities_of(responses):
    """The capability list of the last CAPABILITY response or [CAPABILITY ...] code seen."""
    found = None
    for entry in responses:
        match = re.search(r"(?:^\* |\[)CAPABILITY ([^\]\r\n]*)", entry["text"])
        if match:
            found = sorted(match.group(1).split())
    return found


def read_until_tagged(client, tags):
    """Reads (recorded) lines until a tagged response for each of `tags` arrived, reading
    literals as they are announced."""
    waiting = set(tags)
    while waiting:
        line = client.readline()
        if not line:
            raise EOFError("connection closed")
        stripped = line.rstrip(b"\r\n")
        while LITERAL_AT_END.search(stripped):
            size = int(LITERAL_AT_END.search(stripped).group(1))
            client.read(size)
            stripped = client.readline().rstrip(b"\r\n")
        tag = text(stripped.split(b" ", 1)[0])
        waiting.discard(tag)


def raw(client, data, tags=None):
    """Sends `data` (CRLF appended) exactly, waiting for the continuation request after each
    synchronising literal as a client must; stops sending if the server answers the command
    instead. Then reads until every tag in `tags` (default: the first word) was answered."""
    payload = data.encode("utf-8") + b"\r\n"
    tags = tags or [data.split(" ", 1)[0]]
    marker = re.compile(rb"~?\{(\d+)(\+?)\}\r\n")
    position = 0
    while position < len(payload):
        match = marker.search(payload, position)
        if match is None:
            client.send(payload[position:])
            break
        client.send(payload[position:match.end()])
        size = int(match.group(1))
        if not match.group(2):
            line = client.readline()
            while line.startswith(b"* "):  # untagged news may come before the "+"
                line = client.readline()
            if not line.startswith(b"+"):
                # Refused before the literal was sent: the tagged answer is this line.
                tag = text(line.split(b" ", 1)[0])
                tags = [t for t in tags if t != tag]
                break
        client.send(payload[match.end():match.end() + size])
        position = match.end() + size
    read_until_tagged(client, tags)


def idle(client, options):
    """IDLE (RFC 2177): waits for the continuation, runs optional local programs ("run": one,
    "runs": several in turn) while the session idles (another client delivering or changing
    something), then waits until a line matching `until` (a regular expression, default an
    EXISTS) arrives or `timeout` seconds passed, and ends with DONE. `data` says whether the
    awaited line came ("seen") and whether the connection ended meanwhile ("ended").

    A thread does the (blocking) reads, so waiting with a bound never leaves imaplib's buffered
    reader in the state a socket timeout would."""
    tag = text(client._new_tag())
    client.tagged_commands.pop(tag.encode(), None)
    client.send(f"{tag} IDLE\r\n".encode())
    line = client.readline()
    if not line.startswith(b"+"):
        if not line.startswith(tag.encode() + b" "):
            read_until_tagged(client, [tag])
        return {"seen": False, "refused": True}
    lines = queue.Queue()

    def reader():
        try:
            while True:
                line = client.readline()
                lines.put(line or None)
                if not line or line.startswith(tag.encode() + b" "):
                    return
        except Exception as error:  # the connection ended: reported as such below
            lines.put(error)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    result = {}
    if options.get("run"):
        result["run"] = local_result(subprocess.run(options["run"], capture_output=True))
    if options.get("runs"):
        result["runs"] = [
            local_result(subprocess.run(program, capture_output=True))
            for program in options["runs"]
        ]
    pattern = re.compile(options.get("until", r"^\* \d+ EXISTS"))
    deadline = time.monotonic() + options.get("timeout", 10)
    seen, ended = False, False
    while not seen:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            item = lines.get(timeout=remaining)
        except queue.Empty:
            break
        if item is None or isinstance(item, Exception):
            ended = True
            break
        seen = bool(pattern.search(text(item.rstrip(b"\r\n"))))
    if not ended:
        try:
            client.send(b"DONE\r\n")
        except OSError:  # the server closed the connection (BYE) meanwhile
            ended = True
        thread.join(60)
    result["seen"] = seen
    result["ended"] = ended
    return result


def local_result(done):
    out = {"returncode": done.returncode, "stderr": text(done.stderr)}
    try:
        out["json"] = json.loads(done.stdout)
    except ValueError:
        out["stdout"] = text(done.stdout)
    return out


def command(client, line):
    """One command through imaplib's own machinery (tag, synchronising literals, untagged
    response collection): `line` is "NAME ARGUMENTS..."."""
    name, _, rest = line.partition(" ")
    name = name.upper()
    imaplib.Commands.setdefault(name, ALL_STATES)
    if rest:
        return client._simple_command(name, rest)
    return client._simple_command(name)


def step(client, name, *args):
    """Runs one step; returns its "data" (None when the responses say it all)."""
    if name == "capability":
        command(client, "CAPABILITY")
        return capabilities_of(client.responses)
    if name == "starttls":
        client.starttls(ssl_context=tls_context())
        return capabilities_of(client.responses)
    if name == "starttls_with":
        # STARTTLS with another command pipelined behind it in the same packet, as an attacker
        # in the middle would inject it (the CVE-2011-0411 class): RFC 9051 §6.2.1 says the
        # server discards what was buffered before TLS. Then the TLS handshake, as imaplib's
        # starttls() does it.
        tag = text(client._new_tag())
        client.tagged_commands.pop(tag.encode(), None)
        client.send(f"{tag} STARTTLS\r\n{args[0]}\r\n".encode())
        read_until_tagged(client, [tag])
        client.sock = tls_context().wrap_socket(client.sock, server_hostname=client.host)
        client.file = client.sock.makefile("rb")
        client._tls_established = True
        return None
    if name == "login":
        client.login(args[0], args[1])
        return capabilities_of(client.responses)
    if name == "authenticate_plain":
        user, password = args[0], args[1]
        token = f"\0{user}\0{password}".encode()
        if len(args) > 2 and args[2]:
            # SASL-IR (RFC 4959): the initial response on the command line.
            client._simple_command("AUTHENTICATE", "PLAIN", b64(token))
        else:
            # The classic exchange: empty continuation, then the response on its own line.
            client.authenticate("PLAIN", lambda _challenge: token)
        return capabilities_of(client.responses)
    if name == "select":
        client.select(args[0])
        return None
    if name == "examine":
        client.select(args[0], readonly=True)
        return None
    if name == "list":
        client.list(*args)
        return None
    if name == "lsub":
        client.lsub(*args)
        return None
    if name == "status":
        client.status(args[0], args[1])
        return None
    if name == "create":
        client.create(args[0])
        return None
    if name == "delete":
        client.delete(args[0])
        return None
    if name == "rename":
        client.rename(args[0], args[1])
        return None
    if name == "subscribe":
        client.subscribe(args[0])
        return None
    if name == "unsubscribe":
        client.unsubscribe(args[0])
        return None
    if name == "append":
        # ["append", folder, base64 content, flags or null, date or null]
        content = base64.b64decode(args[1])
        flags = args[2] if len(args) > 2 else None
        date = args[3] if len(args) > 3 else None
        if date is not None and not date.startswith('"'):
            date = f'"{date}"'
        client.append(args[0], flags, date, content)
        return None
    if name == "fetch":
        client.fetch(args[0], args[1])
        return None
    if name == "store":
        client.store(args[0], args[1], args[2])
        return None
    if name == "copy":
        client.copy(args[0], args[1])
        return None
    if name == "move":
        command(client, f"MOVE {args[0]} {args[1]}")
        return None
    if name == "expunge":
        client.expunge()
        return None
    if name == "search":
        client.search(None, *args)
        return None
    if name == "uid":
        # ["uid", "FETCH", "1:*", "(FLAGS)"] and the like
        client.uid(args[0], *args[1:])
        return None
    if name == "sort":
        client.sort(args[0], args[1], *args[2:])
        return None
    if name == "thread":
        client.thread(args[0], args[1], *args[2:])
        return None
    if name == "enable":
        client.enable(args[0])
        return None
    if name == "namespace":
        client.namespace()
        return None
    if name == "getquotaroot":
        client.getquotaroot(args[0])
        return None
    if name == "noop":
        client.noop()
        return None
    if name == "close":
        client.close()
        return None
    if name == "unselect":
        client.unselect()
        return None
    if name == "compress":
        typ, _ = command(client, "COMPRESS DEFLATE")
        if typ == "OK":
            client.start_compression()
        return None
    if name == "cmd":
        command(client, args[0])
        return None
    if name == "raw":
        raw(client, args[0], args[1] if len(args) > 1 else None)
        return None
    if name == "idle":
        return idle(client, args[0] if args else {})
    if name == "run":
        return local_result(subprocess.run(args[0], capture_output=True))
    if name == "logout":
        # imaplib's logout() stops reading at the BYE; read on to the tagged OK (RFC 9051
        # §6.1.3: BYE first, then OK), then close.
        tag = text(client._new_tag())
        client.tagged_commands.pop(tag.encode(), None)
        client.state = "LOGOUT"
        client.send(f"{tag} LOGOUT\r\n".encode())
        read_until_tagged(client, [tag])
        client.shutdown()
        return None
    raise ValueError(f"unknown step {name}")


def outcome(client, data):
    result = {"untagged": [], "tagged": [], "continuations": [], "literals": [], "fetches": []}
    for entry in client.responses:
        line = entry["text"]
        result["literals"].extend(entry["literals"])
        if line.startswith("* "):
            result["untagged"].append(line)
            if re.match(r"\* \d+ FETCH ", line):
                try:
                    result["fetches"].append(parse_fetch(entry["parts"]))
                except (ValueError, IndexError) as error:
                    result.setdefault("parse_errors", []).append(f"{error}: {line[:200]}")
        elif line.startswith("+"):
            result["continuations"].append(line)
        else:
            result["tagged"].append(line)
    if result["tagged"]:
        parts = result["tagged"][0].split(" ", 2)
        result["status"] = parts[1] if len(parts) > 1 else ""
        result["text"] = parts[2] if len(parts) > 2 else ""
    if data is not None:
        result["data"] = data
    return result


def main():
    args = json.loads(sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read())
    out = {"steps": []}
    client = connect(args)
    out["welcome"] = text(client.welcome)
    out["capabilities"] = sorted(client.capabilities)
    for name, *rest in args["steps"]:
        client.start_recording()
        client.untagged_responses = {}
        try:
            data = step(client, name, *rest)
            result = outcome(client, data)
            result.setdefault("status", "OK" if name in ("run",) else "none")
        except imaplib.IMAP4.abort as error:
            result = outcome(client, None)
            result["status"] = result.get("status") if result["tagged"] else "closed"
            result["error"] = str(error)
            out["steps"].append(result)
            if result["status"] == "closed" or name == "logout":
                break
            continue
        except imaplib.IMAP4.error as error:
            result = outcome(client, None)
            result.setdefault("status", "error")
            result["error"] = str(error)
        except (EOFError, ConnectionError, OSError) as error:
            result = outcome(client, None)
            result["status"] = "closed"
            result["error"] = str(error)
            out["steps"].append(result)
            break
        except Exception as error:  # a bug of this script or a reply it cannot parse
            result = outcome(client, None)
            result["status"] = "error"
            result["error"] = f"{type(error).__name__}: {error}"
        out["steps"].append(result)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
