#!/usr/bin/python3
"""Send datagrams to an AF_UNIX datagram socket, as the tests' client.

  dgram.py SOCKET PAYLOAD [--reply] [--timeout S] [--count N] [--hex]

PAYLOAD is sent as UTF-8 text (or decoded from hex with --hex). The client
socket is autobound (an abstract address), so the daemon can reply. With
--reply, each reply is printed on its own line. Exit 0 on success, 3 when the
socket cannot be reached, 4 when a reply did not arrive in time.
Runs under /usr/bin/python3 so it works as another user (setpriv).
"""
import socket
import sys


def main(argv):
    args = [a for a in argv[1:]]
    want_reply = "--reply" in args
    use_hex = "--hex" in args
    timeout = 5.0
    count = 1
    if "--timeout" in args:
        timeout = float(args[args.index("--timeout") + 1])
    if "--count" in args:
        count = int(args[args.index("--count") + 1])
    pos = []
    skip = False
    for i, a in enumerate(args):
        if skip:
            skip = False
            continue
        if a in ("--timeout", "--count"):
            skip = True
            continue
        if a.startswith("--"):
            continue
        pos.append(a)
    if len(pos) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    path, payload = pos
    data = bytes.fromhex(payload) if use_hex else payload.encode()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("")  # autobind
    s.settimeout(timeout)
    try:
        for _ in range(count):
            s.sendto(data, path)
            if want_reply:
                reply = s.recv(65536)
                print(reply.decode(errors="replace"))
    except (FileNotFoundError, ConnectionRefusedError) as e:
        print(f"dgram: {path}: {e}", file=sys.stderr)
        return 3
    except socket.timeout:
        print("dgram: no reply", file=sys.stderr)
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
