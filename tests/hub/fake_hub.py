#!/usr/bin/env python3
"""A fake Hugging Face hub on 127.0.0.1 for tests/hub (no internet is touched).

  fake_hub.py --root DIR --port-file F --log L [--faults FAULTS.json] [--token T]

DIR/<org>/<name>/ holds a model repo's files (DIR/datasets/<org>/<name>/ a dataset's). It serves:
  GET  /api/models/<org>/<name>/revision/<rev>   {"sha": commit, "siblings": [{"rfilename": ...}]}
  HEAD|GET /<org>/<name>/resolve/<rev>/<file>      *.safetensors and *.gguf like LFS files: a 302 to
       /lfs/<sha256> with X-Linked-Etag (sha256) and X-Linked-Size; other files directly with a
       git-style ETag (sha1) and Content-Length. Range requests are honoured.
Repos whose name contains "gated" answer 401 without "Authorization: Bearer <token>".
FAULTS maps a file name to what happens to its downloads (each fault applies `times` times):
  {"drop_after": N}   close the connection after N body bytes
  {"status": 500}     answer with that status
  {"corrupt": true}   send different bytes of the same length
  {"ignore_range": true}  answer 200 with the whole file to Range requests
Every request is logged to L as one JSON line: method, path, range, status, bytes sent.
"""
import argparse
import hashlib
import http.server
import json
import os
import socketserver
import sys
import threading

COMMIT = "0123456789abcdef0123456789abcdef01234567"
LFS = (".safetensors", ".gguf")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--faults", default="")
    ap.add_argument("--token", default="secret")
    a = ap.parse_args()
    faults = json.load(open(a.faults)) if a.faults else {}
    used = {}
    lock = threading.Lock()
    log = open(a.log, "a", buffering=1)

    def take_fault(name, kind):
        with lock:
            f = faults.get(name)
            if not f or kind not in f:
                return None
            n = used.get((name, kind), 0)
            if n >= f.get("times", 1):
                return None
            used[(name, kind)] = n + 1
            return f[kind]

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def note(self, status, sent):
            log.write(json.dumps({"method": self.command, "path": self.path,
                                  "range": self.headers.get("Range", ""), "status": status,
                                  "sent": sent}) + "\n")

        def reply(self, status, body=b"", headers=None):
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.note(status, 0 if self.command == "HEAD" else len(body))

        def repo(self, kind, org, name):
            base = os.path.join(a.root, "datasets" if kind == "dataset" else "", org, name)
            return base if os.path.isdir(base) else None

        def authorised(self, name):
            return "gated" not in name or self.headers.get("Authorization") == "Bearer " + a.token

        def send_file(self, data, name, extra):
            status, body = 200, data
            rng = self.headers.get("Range", "")
            drop = take_fault(name, "drop_after")
            if take_fault(name, "corrupt"):
                body = bytes((b + 1) % 256 for b in body)
            start = 0
            if rng.startswith("bytes=") and not take_fault(name, "ignore_range"):
                start = int(rng[6:].split("-")[0])
                if start >= len(data):
                    return self.reply(416, b"", {"Content-Range": "bytes */%d" % len(data)})
                status, body = 206, body[start:]
            self.send_response(status)
            for k, v in extra.items():
                self.send_header(k, v)
            if status == 206:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if self.command == "HEAD":
                return self.note(status, 0)
            if drop is not None:
                self.wfile.write(body[:drop])
                self.wfile.flush()
                self.note(status, min(drop, len(body)))
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.wfile.write(body)
            self.note(status, len(body))

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts[:1] == ["lfs"] and len(parts) == 3:  # /lfs/<sha256>/<name>
                path = blobs.get(parts[1])
                if not path:
                    return self.reply(404)
                return self.send_file(open(path, "rb").read(), parts[2], {})
            if parts[:1] == ["api"] and len(parts) >= 6 and parts[4] == "revision":
                kind = "dataset" if parts[1] == "datasets" else "model"
                base = self.repo(kind, parts[2], parts[3])
                if not base:
                    return self.reply(404, b'{"error":"Repository not found"}')
                if not self.authorised(parts[3]):
                    return self.reply(401, b'{"error":"gated"}')
                files = sorted(os.path.relpath(os.path.join(d, f), base)
                               for d, _, fs in os.walk(base) for f in fs)
                body = json.dumps({"sha": COMMIT, "siblings": [{"rfilename": f} for f in files]}).encode()
                return self.reply(200, body, {"Content-Type": "application/json"})
            kind = "model"
            if parts[:1] == ["datasets"]:
                kind, parts = "dataset", parts[1:]
            if len(parts) >= 5 and parts[2] == "resolve":
                base = self.repo(kind, parts[0], parts[1])
                if not base:
                    return self.reply(404)
                if not self.authorised(parts[1]):
                    return self.reply(401)
                rel = "/".join(parts[4:])
                path = os.path.join(base, rel)
                if not os.path.isfile(path):
                    return self.reply(404)
                status = take_fault(rel, "status")
                if status:
                    return self.reply(int(status), b"server trouble")
                data = open(path, "rb").read()
                common = {"X-Repo-Commit": COMMIT}
                if rel.endswith(LFS):
                    sha = hashlib.sha256(data).hexdigest()
                    blobs[sha] = path
                    common.update({"X-Linked-Etag": '"%s"' % sha, "X-Linked-Size": str(len(data)),
                                   "ETag": '"%s"' % sha, "Location": "/lfs/%s/%s" % (sha, rel)})
                    return self.reply(302, b"", common)
                common["ETag"] = '"%s"' % hashlib.sha1(data).hexdigest()
                return self.send_file(data, rel, common)
            self.reply(404)

    blobs = {}

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    srv = Server(("127.0.0.1", 0), H)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
