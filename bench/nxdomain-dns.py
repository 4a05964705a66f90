#!/usr/bin/env python3
"""A DNS responder on a loopback UDP port that answers every query NXDOMAIN at once, for the
benchmarks: the server's checks (block lists, SPF, DKIM, DMARC) never wait on a resolver, so
what is measured is our work, not the network's.

Usage: nxdomain-dns.py PORT-FILE — binds a free port, writes it to PORT-FILE, then serves until
killed. RFC 1035 §4.1.1: the query sent back with QR, RA and RCODE 3 (NXDOMAIN), RD copied,
no records.
"""

import socket
import sys

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
with open(sys.argv[1], "w") as port_file:
    port_file.write(str(sock.getsockname()[1]))
while True:
    query, peer = sock.recvfrom(4096)
    if len(query) < 12:
        continue
    flags = 0x8000 | (query[2] & 0x01) << 8 | 0x0080 | 3
    sock.sendto(query[:2] + flags.to_bytes(2, "big") + query[4:6] + bytes(6) + query[12:], peer)
