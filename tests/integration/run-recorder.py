#!/usr/bin/python3
"""A PROGRAM for the updater-run signal tests: it records every signal.

  run-recorder.py DIR [N...]

At start it forks a child that stays in its process group; each of the two
installs a handler for every signal a program can handle, appends
"main N" or "child N" to DIR/got for each signal N it receives, writes its
PID to DIR/main.pid or DIR/child.pid once ready, and carries on. A signal
listed as N makes the one receiving it exit 0 after recording it. The two
real-time signals glibc keeps for itself (32 and 33) cannot be handled: they
kill, as they would any glibc program.
"""
import os
import signal
import sys


def main(argv):
    d = argv[1]
    exit_on = {int(a) for a in argv[2:]}
    role = "main"
    out = os.open(os.path.join(d, "got"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def record(sig, frame):
        os.write(out, ("%s %d\n" % (role, sig)).encode())
        if sig in exit_on:
            os._exit(0)

    for s in range(1, signal.SIGRTMAX + 1):
        if s in (signal.SIGKILL, signal.SIGSTOP, 32, 33):
            continue
        signal.signal(s, record)
    if os.fork() == 0:
        role = "child"
    tmp = os.path.join(d, "%s.tmp" % role)
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(tmp, os.path.join(d, "%s.pid" % role))
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
