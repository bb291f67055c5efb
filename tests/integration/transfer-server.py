#!/usr/bin/python3
"""A small HTTP server for the transfer tests: cuts downloads, may ignore Range.

  transfer-server.py ROOT CTL PORTFILE LOG

Serves the files under ROOT on 127.0.0.1 (a free port, written to PORTFILE
once listening). Controlled by files in CTL, read at every request:

  CTL/cut-NAME    holds a number K: the next GET of a file called NAME sends
                  the headers of the whole answer (its Content-Length) and
                  only K bytes of the body, then drops the connection; the
                  control file is removed
  CTL/norange     while it exists, Range headers are ignored (200, whole file)

Range "bytes=N-" is answered 206 with the bytes from N on. One line a GET in
LOG: "GET PATH range=N|- status=S sent=BYTES" (BYTES: body bytes written).
"""
import http.server
import os
import sys

ROOT, CTL, PORTFILE, LOG = sys.argv[1:5]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def record(self, start, status, sent):
        with open(LOG, "a") as f:
            f.write("GET %s range=%s status=%d sent=%d\n" % (self.path, start, status, sent))

    def do_GET(self):
        rel = self.path.split("?", 1)[0].lstrip("/")
        path = os.path.realpath(os.path.join(ROOT, rel))
        if not path.startswith(os.path.realpath(ROOT) + "/") or not os.path.isfile(path):
            self.send_error(404)
            self.record("-", 404, 0)
            return
        size = os.path.getsize(path)
        start = 0
        status = 200
        rng = self.headers.get("Range")
        if rng and not os.path.exists(os.path.join(CTL, "norange")):
            if not rng.startswith("bytes=") or not rng[6:].rstrip("-").isdigit() or not rng.endswith("-"):
                self.send_error(416)
                self.record(rng, 416, 0)
                return
            start = int(rng[6:-1])
            if start >= size:
                self.send_error(416)
                self.record(start, 416, 0)
                return
            status = 206
        cut = None
        cutfile = os.path.join(CTL, "cut-" + os.path.basename(path))
        if os.path.exists(cutfile):
            with open(cutfile) as f:
                cut = int(f.read().strip())
            os.unlink(cutfile)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size - start))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, size - 1, size))
        self.end_headers()
        sent = 0
        want = size - start if cut is None else min(cut, size - start)
        with open(path, "rb") as f:
            f.seek(start)
            while sent < want:
                chunk = f.read(min(65536, want - sent))
                if not chunk:
                    break
                self.wfile.write(chunk)
                sent += len(chunk)
        self.wfile.flush()
        self.record(start if status == 206 else "-", status, sent)
        if cut is not None:
            self.close_connection = True


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(PORTFILE + ".tmp", PORTFILE)
server.serve_forever()
