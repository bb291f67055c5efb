#!/usr/bin/python3
"""dir-hostile.py CASE OUT [OUTSIDE]: write a hostile release archive for dir-hostile.sh.

CASE is one of: absolute, dotdot, symlink-out, hardlink-passwd, device,
setuid, bomb, entries, truncated. OUTSIDE is a directory outside the release
that the archive tries to write into (absolute, dotdot, symlink-out).
Every archive starts with a harmless file, so a refusal must undo work
already done. setuid is a whole, valid release with a set-uid bin/shop
(taken from the release tree given as OUTSIDE).
"""
import io
import os
import sys
import tarfile


def info(name, kind=tarfile.REGTYPE, size=0, mode=0o644, link=""):
    t = tarfile.TarInfo(name)
    t.type = kind
    t.size = size
    t.mode = mode
    t.linkname = link
    t.mtime = 1700000000
    return t


def add_file(tar, name, data=b"x\n", mode=0o644):
    tar.addfile(info(name, size=len(data), mode=mode), io.BytesIO(data))


class Zeros(io.RawIOBase):
    """N zero bytes, read without holding them in memory."""

    def __init__(self, n):
        self.left = n

    def readinto(self, b):
        n = min(len(b), self.left)
        b[:n] = bytes(n)
        self.left -= n
        return n

    def readable(self):
        return True


def main():
    case, out = sys.argv[1], sys.argv[2]
    outside = sys.argv[3] if len(sys.argv) > 3 else "/tmp"
    mode = "w:gz" if case in ("bomb", "entries", "truncated") else "w"
    with tarfile.open(out, mode, format=tarfile.GNU_FORMAT) as tar:
        if case != "setuid":
            add_file(tar, "README", b"harmless\n")
        if case == "absolute":
            add_file(tar, outside + "/planted")
        elif case == "dotdot":
            add_file(tar, "bin/../../" + "../" * 8 + outside.lstrip("/") + "/planted")
        elif case == "symlink-out":
            tar.addfile(info("evil", tarfile.SYMTYPE, mode=0o777, link=outside))
            add_file(tar, "evil/planted")
        elif case == "hardlink-passwd":
            tar.addfile(info("passwd", tarfile.LNKTYPE, link="/etc/passwd"))
        elif case == "device":
            t = info("null", tarfile.CHRTYPE, mode=0o666)
            t.devmajor, t.devminor = 1, 3
            tar.addfile(t)
        elif case == "setuid":
            for root, dirs, files in sorted(os.walk(outside)):
                dirs.sort()
                for f in sorted(files):
                    path = os.path.join(root, f)
                    rel = os.path.relpath(path, outside)
                    with open(path, "rb") as fh:
                        data = fh.read()
                    add_file(tar, rel, data, 0o4755 if rel == "bin/shop" else 0o644 | (os.stat(path).st_mode & 0o111))
        elif case == "bomb":
            size = 64 << 20
            tar.addfile(info("zeros", size=size), Zeros(size))
        elif case == "entries":
            for d in range(101):
                tar.addfile(info("d%03d" % d, tarfile.DIRTYPE, mode=0o755))
                for f in range(1000):
                    tar.addfile(info("d%03d/%04d" % (d, f)))
        elif case == "truncated":
            add_file(tar, "big", os.urandom(256 * 1024))
        else:
            sys.exit("unknown case " + case)
    if case == "truncated":
        size = os.path.getsize(out)
        with open(out, "r+b") as fh:
            fh.truncate(size // 2)


main()
