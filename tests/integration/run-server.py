#!/usr/bin/python3
"""A small TCP server for the updater-run tests and benchmark.

  run-server.py [--fd | --bind HOST:PORT] [--delay S] [--ready]
                [--marker FILE] [--info FILE]

--fd serves the socket passed as fd 3 (LISTEN_FDS, as sd_listen_fds would
find it); --bind opens its own socket (SO_REUSEADDR). Without either it only
waits to be stopped. Every connection gets this process's PID and a newline.
--delay sleeps before serving, like a program that loads for a while;
--marker appends the PID to FILE just before --ready sends READY=1 to
NOTIFY_SOCKET; --info writes the LISTEN_* variables and the PID to FILE.
SIGTERM stops it gracefully: the connection in hand is answered first.
"""
import os
import select
import signal
import socket
import sys
import time

stopping = False


def on_term(signum, frame):
    global stopping
    stopping = True


def notify(msg):
    addr = os.environ.get("NOTIFY_SOCKET", "")
    if not addr:
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.sendto(msg.encode(), addr)
    finally:
        s.close()


def main(argv):
    signal.signal(signal.SIGTERM, on_term)
    args = argv[1:]

    def opt(name, default=None):
        return args[args.index(name) + 1] if name in args else default

    pid = os.getpid()
    info = opt("--info")
    if info:
        with open(info, "a") as f:
            for k in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET"):
                f.write("%s=%s\n" % (k, os.environ.get(k, "")))
            f.write("PID=%d\n" % pid)
    sock = None
    if "--fd" in args:
        if os.environ.get("LISTEN_PID") != str(pid) or int(os.environ.get("LISTEN_FDS", "0")) < 1:
            sys.exit("run-server: no LISTEN_FDS for me")
        sock = socket.socket(fileno=3)
    elif opt("--bind"):
        host, port = opt("--bind").rsplit(":", 1)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
        sock.listen(128)
    time.sleep(float(opt("--delay", "0")))
    marker = opt("--marker")
    if marker:
        with open(marker, "a") as f:
            f.write("%d\n" % pid)
    if "--ready" in args:
        notify("READY=1\nSTATUS=serving")
    reply = ("%d\n" % pid).encode()
    while not stopping:
        if sock is None:
            time.sleep(0.05)
            continue
        r, _, _ = select.select([sock], [], [], 0.05)
        if not r:
            continue
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            continue
        with conn:
            try:
                conn.sendall(reply)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
