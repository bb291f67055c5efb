#!/usr/bin/python3
"""Subscribe to updaterd's notifications, as the tests' client: a connection
to the events socket (SOCK_SEQPACKET) beside the control socket.

  events.py CONTROL_SOCKET [--until PREFIX] [--count N] [--timeout S] [--send TEXT]

Prints "connected" once the connection is made, then every packet on its own
line, flushed. Ends at the first packet starting with PREFIX (the N-th with
--count), when the daemon closes the connection (prints "EOF", exit 0), or
after S seconds (default 60; exit 4). --send TEXT: send TEXT as a packet
first. Exit 3 when the events socket cannot be reached.
Runs under /usr/bin/python3 so it works as another user (setpriv).
"""
import os
import socket
import sys
import time


def main(argv):
    args = argv[1:]
    until, count, timeout, send = None, 1, 60.0, None
    pos = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--until":
            until = args[i + 1]; i += 2
        elif a == "--count":
            count = int(args[i + 1]); i += 2
        elif a == "--timeout":
            timeout = float(args[i + 1]); i += 2
        elif a == "--send":
            send = args[i + 1]; i += 2
        else:
            pos.append(a); i += 1
    if len(pos) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    path = os.path.join(os.path.dirname(pos[0]), "events.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(path)
    except OSError as e:
        print(f"events: {path}: {e}", file=sys.stderr)
        return 3
    print("connected", flush=True)
    if send is not None:
        s.send(send.encode())
    deadline = time.monotonic() + timeout
    seen = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            print("events: timeout", file=sys.stderr)
            return 4
        s.settimeout(left)
        try:
            data = s.recv(65536)
        except socket.timeout:
            print("events: timeout", file=sys.stderr)
            return 4
        except ConnectionResetError:
            data = b""
        if not data:
            print("EOF", flush=True)
            return 0
        text = data.decode(errors="replace")
        print(text, flush=True)
        if until is not None and text.startswith(until):
            seen += 1
            if seen >= count:
                return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
