#!/usr/bin/python3
"""Send a flood of one-byte datagrams to an AF_UNIX datagram socket.

  flood.py SOCKET TOTAL SENDERS [--bind]

SENDERS processes send TOTAL datagrams between them, at once, with blocking
sends (a full queue makes a sender wait, never drops a datagram). With
--bind each sender's socket is autobound, so the daemon replies to every
datagram (and the sender never reads: the replies pile up and are dropped).
Prints the wall time the flood took.
"""
import os
import socket
import sys
import time


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    path, total, senders = argv[1], int(argv[2]), int(argv[3])
    bind = "--bind" in argv
    per = [total // senders + (1 if i < total % senders else 0) for i in range(senders)]
    start = time.monotonic()
    pids = []
    for n in per:
        pid = os.fork()
        if pid == 0:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            if bind:
                s.bind("")
            s.connect(path)
            send = s.send
            for _ in range(n):
                send(b"x")
            os._exit(0)
        pids.append(pid)
    ok = all(os.waitpid(p, 0)[1] == 0 for p in pids)
    print(f"{time.monotonic() - start:.3f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
