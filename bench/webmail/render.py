"""Fills a mailbox over SMTP, then times webmail pages over HTTP (bench/webmail/run.sh).

  render.py fill HOST:PORT MESSAGES SENDERS
  render.py time HOST:PORT REPEAT
"""
import http.client
import multiprocessing
import re
import smtplib
import statistics
import sys
import time
import urllib.parse

WORDS = "invoice meeting report holiday budget lunch project update review draft".split()


def send_share(args):
    host, port, start, count = args
    with smtplib.SMTP(host, port, timeout=60) as smtp:
        for n in range(start, start + count):
            subject = f"{WORDS[n % len(WORDS)]} {WORDS[(n // 7) % len(WORDS)]} number {n}"
            body = (
                f"From: sender{n % 97}@outside.test\r\nTo: reader@example.test\r\n"
                f"Subject: {subject}\r\nDate: Thu, 26 Nov 2026 10:{n % 60:02d}:00 +0000\r\n"
                f"Message-ID: <bench-{n}@outside.test>\r\n\r\n"
                + f"Message {n}. " * 40 + "\r\n"
            )
            smtp.sendmail(f"sender{n % 97}@outside.test", ["reader@example.test"], body)
    return count


def fill(addr, messages, senders):
    host, port = addr.rsplit(":", 1)
    share = messages // senders
    jobs = [(host, int(port), i * share, share if i < senders - 1 else messages - i * share)
            for i in range(senders)]
    started = time.monotonic()
    with multiprocessing.Pool(senders) as pool:
        sent = sum(pool.map(send_share, jobs))
    print(f"filled: {sent} messages in {time.monotonic() - started:.0f} s")


def request(addr, method, path, body=None, cookie=None):
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    headers = {"Sec-Fetch-Site": "same-origin"}
    if cookie:
        headers["Cookie"] = cookie
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    started = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    elapsed = time.perf_counter() - started
    conn.close()
    return response, data, elapsed


def timed(addr, path, cookie, repeat):
    samples = []
    for _ in range(repeat):
        response, data, elapsed = request(addr, "GET", path, cookie=cookie)
        assert response.status == 200, (path, response.status, data[:300])
        samples.append(elapsed * 1000)
    samples.sort()
    p90 = samples[max(0, int(len(samples) * 0.9) - 1)]
    print(f"{path:60s} median {statistics.median(samples):8.1f} ms  p90 {p90:8.1f} ms  "
          f"({len(data) // 1024} KiB)")


def time_pages(addr, repeat):
    form = urllib.parse.urlencode({"login": "reader@personal.test", "password": "account-password-1"})
    response, _, _ = request(addr, "POST", "/signin", body=form)
    cookie = response.getheader("Set-Cookie").split(";")[0]
    response, _, _ = request(addr, "GET", "/mail", cookie=cookie)
    inbox = response.getheader("Location")
    assert inbox, "webmail redirects to the INBOX"
    _, page, _ = request(addr, "GET", inbox, cookie=cookie)
    uids = re.findall(rf'href="{re.escape(inbox)}/(\d+)"', page.decode())
    assert uids, "the list links its messages"
    timed(addr, inbox, cookie, repeat)
    timed(addr, inbox + "?sort=subject", cookie, repeat)
    timed(addr, inbox + "?page=1000", cookie, repeat)
    timed(addr, inbox + "?q=holiday", cookie, repeat)
    timed(addr, f"{inbox}/{uids[0]}", cookie, repeat)


if __name__ == "__main__":
    if sys.argv[1] == "fill":
        fill(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        time_pages(sys.argv[2], int(sys.argv[3]))
