#!/usr/bin/python3
"""Ask the daemon for its status every INTERVAL ms and time each answer.

  status-probe.py SOCKET STOPFILE [--interval MS] [--timeout S]

Sends "status" from an autobound socket, waits for the reply, sleeps the rest
of INTERVAL and goes again, until STOPFILE exists. Prints one line at the end:
"sent N answered N max_ms F slow N" where slow counts answers later than
50 ms (a request never answered within --timeout counts as slow and is not
answered). Exit 0.
"""
import os
import socket
import sys
import time


def main(argv):
    args = argv[1:]
    interval = 10.0
    timeout = 2.0
    if "--interval" in args:
        interval = float(args[args.index("--interval") + 1])
    if "--timeout" in args:
        timeout = float(args[args.index("--timeout") + 1])
    path, stopfile = args[0], args[1]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("")
    s.settimeout(timeout)
    sent = answered = slow = 0
    worst = 0.0
    while not os.path.exists(stopfile):
        t0 = time.monotonic()
        s.sendto(b"status", path)
        sent += 1
        try:
            s.recv(65536)
            ms = (time.monotonic() - t0) * 1000
            answered += 1
        except socket.timeout:
            ms = timeout * 1000
        worst = max(worst, ms)
        if ms > 50:
            slow += 1
        rest = interval / 1000 - (time.monotonic() - t0)
        if rest > 0:
            time.sleep(rest)
    print("sent %d answered %d max_ms %.1f slow %d" % (sent, answered, worst, slow), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
