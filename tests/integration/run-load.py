#!/usr/bin/python3
"""A load generator for the updater-run tests and benchmark.

  run-load.py HOST PORT STOPFILE [--clients N] [--seen FILE]

N clients (1 unless told) connect in a loop, each reading one answer (the
server's PID) per connection, until STOPFILE exists. Then one JSON object is
printed: answers, refused (connect failed: ECONNREFUSED), failed (any other
error, or an empty answer), the server PIDs in the order they first
answered, and the restart gaps in milliseconds: for each change of PID, the
time from the last answer of the old one to the first answer of the new one.
--seen keeps FILE updated with the PIDs that have answered, one a line.
"""
import json
import os
import socket
import sys
import threading
import time


def client(host, port, stopfile, lock, events, counts):
    while not os.path.exists(stopfile):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect((host, port))
            data = b""
            while True:
                chunk = s.recv(64)
                if not chunk:
                    break
                data += chunk
            t = time.monotonic()
            if not data.endswith(b"\n"):
                with lock:
                    counts["failed"] += 1
                continue
            with lock:
                counts["answers"] += 1
                events.append((t, int(data)))
        except ConnectionRefusedError:
            with lock:
                counts["refused"] += 1
            time.sleep(0.001)
        except OSError:
            with lock:
                counts["failed"] += 1
        finally:
            s.close()


def main(argv):
    host, port, stopfile = argv[1], int(argv[2]), argv[3]
    nclients = int(argv[argv.index("--clients") + 1]) if "--clients" in argv else 1
    seen_file = argv[argv.index("--seen") + 1] if "--seen" in argv else None
    lock = threading.Lock()
    events = []
    counts = {"answers": 0, "refused": 0, "failed": 0}
    threads = [threading.Thread(target=client, args=(host, port, stopfile, lock, events, counts))
               for _ in range(nclients)]
    for t in threads:
        t.start()
    written = 0
    seen = []
    while any(t.is_alive() for t in threads):
        time.sleep(0.02)
        if seen_file:
            with lock:
                for _, pid in events[written:]:
                    if pid not in seen:
                        seen.append(pid)
                written = len(events)
            tmp = seen_file + ".tmp"
            with open(tmp, "w") as f:
                f.write("".join("%d\n" % p for p in seen))
            os.rename(tmp, seen_file)
    for t in threads:
        t.join()
    events.sort()
    order, last, first = [], {}, {}
    for t, pid in events:
        if pid not in first:
            first[pid] = t
            order.append(pid)
        last[pid] = t
    gaps = [round((first[b] - last[a]) * 1000.0, 2) for a, b in zip(order, order[1:])]
    out = dict(counts)
    out["generations"] = order
    out["gaps_ms"] = gaps
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
