#!/usr/bin/python3
"""A stand-in for updaterd's control socket and events socket (SPEC section
4), for the client tests: it answers like the daemon and lets a test choose
how a check ends. Replies leave from the control socket (a client takes any
datagram whose credentials carry root's uid); notifications go, one packet
each, to every connection to events.sock beside SOCKET.

  client-fakedaemon.py SOCKET MODE LOG

MODE:
  normal   check -> "queued"; 0.3 s later subscribers get
           "updated hello 2.0", "healthy hello 2.0" and "checked ok updated hello to 2.0"
  running  check -> "running"; subscribers get "checked ok earlier round",
           then "checked failed failed: hello: download failed"
  failing  check -> "deferred 1"; subscribers get "checked failed failed: hello: bad signature"
  never    check -> "queued"; the check never ends
  silent   no reply to anything
  spoof    like normal, but every reply is preceded by a forged one ("queued
           by nobody" / "{}"), sent as nobody to the client's address
Every request is logged to LOG as "uid=UID len=N TEXT" (the sender's uid
from SCM_CREDENTIALS), every connection to the events socket as
"uid=UID connect" and its end as "disconnect". The sockets are mode 0666 so
any user reaches them.
"""
import json
import os
import select
import socket
import struct
import subprocess
import sys
import time

STATUS = {
    "version": "0.1.0",
    "state": "idle",
    "last_check": 1700000000,
    "last_result": "ok",
    "next_check": None,
    "requests": {"received": 3, "coalesced": 1, "rejected": 0},
    "targets": [
        {"name": "hello", "path": "/usr/local/bin/hello", "version": "1.4.2",
         "sha256": "ab" * 32, "updated_at": 1700000000, "last_error": None},
        {"name": "other-tool", "path": "/opt/other", "version": None,
         "sha256": None, "updated_at": None, "last_error": "check: exit 1 \u00e9\u001b[31m\u009b2J\u0085"},
    ],
}


def main(argv):
    path, mode, logpath = argv[1], argv[2], argv[3]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    s.bind(path)
    os.chmod(path, 0o666)
    evpath = os.path.join(os.path.dirname(path), "events.sock")
    try:
        os.unlink(evpath)
    except FileNotFoundError:
        pass
    ev = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ev.bind(evpath)
    os.chmod(evpath, 0o666)
    ev.listen(64)
    log = open(logpath, "a", buffering=1)
    subscribers = []
    timers = []  # (when, text)

    def notify(text):
        for c in list(subscribers):
            try:
                c.send(text.encode())
            except OSError:
                subscribers.remove(c)
                c.close()

    def forge(addr, text):
        # Another user who found the client's address answers first.
        subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "/usr/bin/python3", "-c",
                        "import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); "
                        "s.sendto(sys.argv[2].encode(), bytes.fromhex(sys.argv[1]))",
                        (addr if isinstance(addr, bytes) else addr.encode("latin-1")).hex(), text], check=True)

    while True:
        timeout = None
        if timers:
            timeout = max(0.0, min(t for t, _ in timers) - time.monotonic())
        r, _, _ = select.select([s, ev] + subscribers, [], [], timeout)
        now = time.monotonic()
        for t in sorted([t for t in timers if t[0] <= now]):
            timers.remove(t)
            notify(t[1])
        if ev in r:
            c, _ = ev.accept()
            cred = c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
            _, cuid, _ = struct.unpack("3i", cred)
            log.write(f"uid={cuid} connect\n")
            subscribers.append(c)
        for c in [c for c in subscribers if c in r]:
            try:
                data = c.recv(512)
            except OSError:
                data = b""
            if not data:
                log.write("disconnect\n")
                subscribers.remove(c)
                c.close()
        if s not in r:
            continue
        data, anc, _, addr = s.recvmsg(1024, socket.CMSG_SPACE(12))
        uid = -1
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                _, uid, _ = struct.unpack("3i", payload[:12])
        text = data.decode(errors="replace")
        log.write(f"uid={uid} len={len(data)} {text}\n")
        if mode == "silent" or not addr:
            continue
        reply = None
        if mode == "spoof":
            forge(addr, "{}" if text == "status" else "queued by nobody")
        if len(data) == 1 or text == "check":
            if mode in ("normal", "spoof"):
                reply = "queued"
                timers.append((now + 0.3, "updated hello 2.0"))
                # No health command: healthy at once (SPEC section 15).
                timers.append((now + 0.31, "healthy hello 2.0"))
                timers.append((now + 0.35, "checked ok updated hello to 2.0"))
            elif mode == "running":
                reply = "running"
                timers.append((now + 0.2, "checked ok earlier round"))
                timers.append((now + 0.5, "checked failed failed: hello: download failed"))
            elif mode == "failing":
                reply = "deferred 1"
                timers.append((now + 1.0, "checked failed failed: hello: bad signature"))
            else:
                reply = "queued"
        elif text == "status":
            reply = json.dumps(STATUS)
        elif text in ("subscribe", "unsubscribe"):
            reply = "error subscriptions are connections to events.sock"
        elif text.startswith("rollback "):
            target = text[len("rollback "):]
            if uid != 0:
                reply = "error permission denied"
            elif target == "hello":
                reply = "ok 1.4.1"
                timers.append((now, "rolledback hello 1.4.1"))
            else:
                reply = f"error unknown target '{target}'"
        else:
            reply = "error unknown request"
        try:
            s.sendto(reply.encode(), addr)
        except OSError:
            pass


if __name__ == "__main__":
    main(sys.argv)
