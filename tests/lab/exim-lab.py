#!/usr/bin/env python3
"""Helpers for tests/lab/exim-spool.sh that are awkward in shell.

  exim-lab.py smtp PORT OFFSET
      Talks SMTP to the lab's exim daemon on 127.0.0.1:PORT: STARTTLS + AUTH PLAIN + DSN,
      SMTPUTF8, and a plain null-sender session. OFFSET is the daemon's libfaketime offset
      (seconds, as given in FAKETIME): each message is sent at the start of a fresh fake
      second, so no two messages share an arrival second. Prints one line per message
      ("label fake-second"), and returns at the start of a fresh fake second.

  exim-lab.py crash JFILE TARPITPORT TIMEOUT -- CMD...
      Listens on 127.0.0.1:TARPITPORT without ever answering (the lab routes crash.example
      there), runs CMD (an `exim -M ID` delivery) in a new session, waits until JFILE (the
      message's -J journal) is non-empty, then SIGKILLs that session's process group: a real
      crashed delivery, -J left behind, -H not rewritten. We are a child sub-reaper so the killed
      processes are reaped here, not left as zombies. Prints "journal-left" or "no-journal".
"""
import ctypes
import math
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time


def fresh_second(offset, last):
    """Sleep until the fake clock (real + offset) is 20 ms into a second later than `last`."""
    while True:
        fake = time.time() + offset
        sec = math.floor(fake)
        if sec > last and fake - sec < 0.5:
            return sec
        time.sleep(sec + 1.02 - fake)


def smtp(port, offset):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    last = -1

    def send(s, label, *args, **kw):
        nonlocal last
        last = fresh_second(offset, last)
        s.sendmail(*args, **kw)
        print(label, last, flush=True)

    # 1. STARTTLS + AUTH PLAIN + DSN (ENVID, RET, NOTIFY, ORCPT)
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.example", timeout=20)
    s.starttls(context=ctx)
    s.ehlo("client.example")
    s.login("authuser", "labpass")
    msg = (b"From: TLS Sender <tls@sender.example>\r\n"
           b"To: x@remote.example, y@deliver.example\r\n"
           b"Subject: over TLS with AUTH and DSN\r\n"
           b"Message-ID: <tls-1@sender.example>\r\n"
           b"X-Lab-Strip: removed by the data ACL\r\n"
           b"\r\nhello over TLS\r\n")
    send(s, "smtp-tls-dsn", "tls@sender.example", ["x@remote.example", "y@deliver.example"], msg,
         mail_options=["ENVID=qtools-lab-1", "RET=HDRS"],
         rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;x@remote.example"])
    # 2. SMTPUTF8, UTF-8 envelope sender and recipient, same TLS session
    msg = ("From: Jörg <jörg@umlaut.example>\r\nTo: zoë@remote.example\r\n"
           "Subject: SMTPUTF8 Grüße\r\n\r\nhällo\r\n").encode()
    send(s, "smtp-utf8", "jörg@umlaut.example", ["zoë@remote.example"], msg,
         mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    s.quit()
    # 3. plain ESMTP, no TLS, null sender (a bounce from "outside")
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="mx.bouncer.example", timeout=20)
    msg = (b"From: MAILER-DAEMON@mx.bouncer.example\r\nTo: alice@example.org\r\n"
           b"Subject: Undeliverable: hello\r\nAuto-Submitted: auto-replied\r\n"
           b"\r\nyour mail bounced\r\n")
    send(s, "smtp-bounce", "", ["alice@example.org"], msg)
    s.quit()
    fresh_second(offset, last)
    return 0


def crash(jfile, tport, timeout, cmd):
    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    tarpit = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tarpit.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tarpit.bind(("127.0.0.1", tport))
    tarpit.listen(8)             # the kernel completes handshakes; nobody ever answers
    p = subprocess.Popen(cmd, start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    left = False
    deadline = time.time() + timeout
    while time.time() < deadline and p.poll() is None:
        try:
            if os.path.getsize(jfile) > 0:
                left = True
                break
        except OSError:
            pass
        time.sleep(0.02)
    time.sleep(0.2)              # let the remote part reach the tarpit
    try:
        os.killpg(p.pid, signal.SIGKILL)   # the session we created, nothing else
    except ProcessLookupError:
        pass
    while True:                  # reap p and anything re-parented to us
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    tarpit.close()
    print("journal-left" if left else "no-journal")
    return 0 if left else 1


def main(argv):
    if len(argv) >= 3 and argv[0] == "smtp":
        return smtp(int(argv[1]), float(argv[2]))
    if len(argv) >= 6 and argv[0] == "crash" and argv[4] == "--":
        return crash(argv[1], int(argv[2]), float(argv[3]), argv[5:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
