"""A stand-in for an upstream 12345 platform's webhook receiver, run as its own process by the tests.

    python tests/upstream_standin.py --secret S [--fail-first N] [--window 300] [--port P] [--lifetime 600]

Listens on 127.0.0.1 (``--port``, default a free one, printed as ``PORT <n>`` on the first line of stdout;
it stops by itself after ``--lifetime`` seconds) and checks every
``POST /webhook`` the way the README tells a platform to — written here from that description, not with
the product's own code: the timestamp must be within ``--window`` seconds of this process's clock, and
``X-Xiji-Signature`` must be ``sha256=`` + HMAC-SHA256(secret, "<timestamp>." + body). A request that
fails either check is answered 401 and counted as rejected. The first ``--fail-first`` well-signed
requests are answered 503 on purpose. After that, the first request of each ``Idempotency-Key`` is
accepted (200) and its step recorded; a repeat of an accepted key is answered 200 and counted as a
duplicate. ``GET /stats`` answers the counts and the accepted steps as JSON. Standard library only.
"""
import argparse
import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self, secret: str, fail_first: int, window: int):
        self.secret = secret.encode()
        self.fail_first = fail_first
        self.window = window
        self.lock = threading.Lock()
        self.received = 0  # every POST /webhook
        self.rejected = 0  # bad or stale signature
        self.failed_on_purpose = 0
        self.duplicates = 0
        self.accepted: dict[str, dict] = {}  # idempotency key → body
        self.steps: list[list[str]] = []  # [order_number, step] in the order accepted
        self.attempt_headers: list[str] = []  # X-Xiji-Attempt of every well-signed request

    def as_dict(self):
        return {"received": self.received, "rejected": self.rejected, "failed_on_purpose": self.failed_on_purpose,
                "duplicates": self.duplicates, "accepted": len(self.accepted), "steps": self.steps,
                "attempts": self.attempt_headers, "bodies": list(self.accepted.values())}


def make_handler(state: State):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self, code, payload):
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path != "/stats":
                return self._answer(404, {"error": "not found"})
            with state.lock:
                return self._answer(200, state.as_dict())

        def do_POST(self):
            if self.path != "/webhook":
                return self._answer(404, {"error": "not found"})
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            timestamp = self.headers.get("X-Xiji-Timestamp", "")
            given = self.headers.get("X-Xiji-Signature", "")
            key = self.headers.get("Idempotency-Key", "")
            with state.lock:
                state.received += 1
                try:
                    fresh = abs(time.time() - int(timestamp)) <= state.window
                except ValueError:
                    fresh = False
                expected = "sha256=" + hmac.new(state.secret, timestamp.encode() + b"." + body,
                                                hashlib.sha256).hexdigest()
                if not fresh or not hmac.compare_digest(expected, given) or not key:
                    state.rejected += 1
                    return self._answer(401, {"error": "stale timestamp" if not fresh else "bad signature"})
                state.attempt_headers.append(self.headers.get("X-Xiji-Attempt", ""))
                if state.failed_on_purpose < state.fail_first:
                    state.failed_on_purpose += 1
                    return self._answer(503, {"error": "failing on purpose"})
                if key in state.accepted:
                    state.duplicates += 1
                    return self._answer(200, {"duplicate": True})
                payload = json.loads(body)
                state.accepted[key] = payload
                state.steps.append([payload.get("order_number"), payload.get("step")])
                return self._answer(200, {"ok": True})

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--secret", required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--window", type=int, default=300)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--lifetime", type=float, default=600, help="stop by itself after this many seconds")
    args = parser.parse_args()
    state = State(args.secret, args.fail_first, args.window)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(state))
    print(f"PORT {server.server_port}", flush=True)
    threading.Timer(args.lifetime, server.shutdown).start()
    server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
