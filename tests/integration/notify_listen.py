#!/usr/bin/python3
"""A stand-in for systemd's notification socket, for the tests.

  notify_listen.py SOCKET OUTFILE

Binds an AF_UNIX datagram socket at SOCKET and appends every datagram it
receives to OUTFILE as one line (newlines inside a message become spaces),
until it is killed.
"""
import os
import socket
import sys


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    path, out = argv[1], argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)
    with open(out, "a", buffering=1) as f:
        while True:
            data = s.recv(65536)
            f.write(data.decode(errors="replace").replace("\n", " ").strip() + "\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
