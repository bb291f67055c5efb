#!/bin/bash
# Job control through a real terminal (a pty) from an interactive bash, as
# under dumb-init:
#   1. `updater-run -- PROGRAM`, ^Z: PROGRAM stops, and so does updater-run,
#      so bash shows the job stopped and gives back its prompt; `fg`:
#      PROGRAM goes on (it has the terminal again: ^C ends it, 130);
#   2. `updater-run -- cat &`: cat reads the terminal from the background and
#      stops (SIGTTIN), so the job shows stopped; `fg`: cat gets the
#      terminal, echoes a line, ends at ^D (0);
#   3. `updater-run -- bash -i`: the inner bash's own job control works
#      (^Z, jobs, fg, ^C), and `exit` returns to the outer bash.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/run-lib.sh"
new_tmpdir
T=$TEST_TMP

# A PROGRAM whose progress shows: a counter in $T/ticks.
cat >"$T/ticker" <<SH
#!/bin/sh
n=0
while :; do
	n=\$((n + 1))
	echo \$n >"$T/ticks"
	sleep 0.05
done
SH
chmod 0755 "$T/ticker"

$PY - "$RUN" "$T" <<'PYEOF' || fail "see above"
import os, pty, re, select, signal, sys, time

RUN, T = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.environ["PS1"] = "PROMPT$ "
    os.environ["TERM"] = "dumb"
    os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])

out = b""
mark = 0  # expect() looks at what came after the last match


def read_some(t):
    global out
    r, _, _ = select.select([fd], [], [], t)
    if r:
        try:
            out += os.read(fd, 4096)
        except OSError:
            pass


def fail(msg):
    sys.stderr.write("FAIL: run-jobcontrol: %s\n---- terminal:\n%s\n" %
                     (msg, out.decode(errors="replace")))
    os.kill(pid, signal.SIGKILL)
    sys.exit(1)


def expect(regex, what, timeout=15):
    global mark
    end = time.monotonic() + timeout
    while True:
        m = re.search(regex.encode(), out[mark:])
        if m:
            mark += m.end()
            return
        if time.monotonic() > end:
            fail("no %s (/%s/) in %d s" % (what, regex, timeout))
        read_some(0.05)


def until(cond, what, timeout=15):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            fail(what)
        read_some(0.02)


def send(s):
    os.write(fd, s.encode())


def state(p):
    try:
        with open("/proc/%d/stat" % p) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def children(p):
    try:
        with open("/proc/%d/task/%d/children" % (p, p)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def runs_of(comm_path):
    """PIDs of updater-run processes whose command line has comm_path."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0] == RUN.encode() and comm_path.encode() in argv:
            found.append(int(d))
    return found


def ticks():
    try:
        with open(os.path.join(T, "ticks")) as f:
            return int(f.read() or 0)
    except (OSError, ValueError):
        return 0


def advancing(timeout=5):
    t0 = ticks()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if ticks() > t0 + 1:
            return True
        read_some(0.05)
    return False


expect(r"PROMPT\$ ", "first prompt")

# 1. ^Z and fg.
send("%s -- %s/ticker\n" % (RUN, T))
until(lambda: ticks() > 0, "the ticker did not start")
run = runs_of(T + "/ticker")
if len(run) != 1:
    fail("updater-run not found: %r" % run)
run = run[0]
prog = children(run)
if len(prog) != 1:
    fail("no PROGRAM under updater-run: %r" % prog)
prog = prog[0]
send("\x1a")
expect(r"Stopped[^\n]*updater-run", "job stopped after ^Z")
expect(r"PROMPT\$ ", "prompt after ^Z")
until(lambda: state(run) == "T", "updater-run did not stop after ^Z")
until(lambda: state(prog) == "T", "PROGRAM did not stop after ^Z")
if advancing(0.5):
    fail("the ticker still ticks after ^Z")
send("fg\n")
expect(r"updater-run", "fg names the job")
until(lambda: state(run) not in ("T", None), "updater-run still stopped after fg")
until(lambda: state(prog) not in ("T", None), "PROGRAM still stopped after fg")
if not advancing():
    fail("the ticker does not tick after fg")
send("\x03")
expect(r"PROMPT\$ ", "prompt after ^C")
send("echo rc=$?\n")
expect(r"rc=130", "exit status 130 after ^C")
until(lambda: state(run) is None, "updater-run still runs after ^C")

# 2. A background job that reads the terminal stops; fg gives it the
# terminal.
send("%s -- cat & echo bg=%s\n" % (RUN, T))
expect(r"bg=", "the background job started")
expect(r"PROMPT\$ ", "prompt after &")
until(lambda: len(runs_of("cat")) == 1, "no updater-run -- cat")
run = runs_of("cat")[0]
until(lambda: state(run) == "T", "updater-run -- cat & did not stop (SIGTTIN)")
send("jobs\n")
expect(r"Stopped[^\n]*updater-run -- cat", "the job shown stopped")
send("fg\n")
expect(r"updater-run -- cat", "fg names the job")
until(lambda: state(run) not in ("T", None), "updater-run still stopped after fg")
time.sleep(0.2)
send("hello from the terminal\n")
expect(r"hello from the terminal\r?\n[^\n]*hello from the terminal", "cat's echo")
send("\x04")
expect(r"PROMPT\$ ", "prompt after ^D")
send("echo rc=$?\n")
expect(r"rc=0", "exit status 0 after ^D")

# 3. An interactive bash under updater-run does its own job control.
send("%s -- bash --norc --noprofile -i\n" % RUN)
expect(r"PROMPT\$ ", "the inner prompt")
send("sleep 1000 # %s\n" % T)
time.sleep(0.3)
send("\x1a")
expect(r"Stopped[^\n]*sleep 1000", "inner job stopped after ^Z")
expect(r"PROMPT\$ ", "inner prompt after ^Z")
send("fg\n")
expect(r"sleep 1000", "fg names the inner job")
time.sleep(0.3)
send("\x03")
expect(r"PROMPT\$ ", "inner prompt after ^C")
send("echo inner=$?\n")
expect(r"inner=130", "inner exit status 130")
send("exit\n")
expect(r"PROMPT\$ ", "outer prompt after exit")
send("echo outer=$?\n")
expect(r"outer=0", "updater-run's exit status")

send("exit\n")
os.waitpid(pid, 0)
PYEOF
assert_no_leftovers
pass
