"""A local HTTP stand-in for the chat vendors' bot webhooks (DingTalk, WeCom, Feishu), for the channel tests.

It answers on 127.0.0.1 at the paths the vendors use, records every request (path, query, JSON body), and
answers as the vendor does on success (``{"errcode": 0, "errmsg": "ok"}``; Feishu ``{"code": 0}``) — or with
the HTTP status set in ``fail`` for a token/key. Apprise's real plugins reach it through
``settings.NOTIFY_VENDOR_BASE_URLS``, which swaps only their scheme and host (``cases.channels.sending``).
"""
import dataclasses
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclasses.dataclass
class Received:
    vendor: str  # dingtalk | wecom | feishu | unknown
    path: str
    query: dict
    body: dict
    token: str  # DingTalk access_token, WeCom key, Feishu hook token


def _vendor(path: str) -> str:
    if path.startswith("/robot/send"):
        return "dingtalk"
    if path.startswith("/cgi-bin/webhook/send"):
        return "wecom"
    if path.startswith("/open-apis/bot/v2/hook/"):
        return "feishu"
    return "unknown"


class WebhookStandIn:
    """Start with :meth:`start`, stop with :meth:`stop`; ``base_url`` is ``http://127.0.0.1:<port>``."""

    def __init__(self):
        self.received: list[Received] = []
        self.fail: dict[str, int] = {}  # token → HTTP status to answer with
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                split = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(split.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw.decode("utf-8") or "{}")
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                vendor = _vendor(split.path)
                token = query.get("access_token") or query.get("key") or split.path.rstrip("/").rsplit("/", 1)[-1]
                with stand_in._lock:
                    stand_in.received.append(Received(vendor, split.path, query, body, token))
                status = stand_in.fail.get(token, 200)
                answer = {"code": 0, "msg": "success"} if vendor == "feishu" else {"errcode": 0, "errmsg": "ok"}
                if status != 200:
                    answer = {"errcode": -1, "errmsg": "system busy"}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # keep the test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "WebhookStandIn":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def to(self, token: str) -> list[Received]:
        """The requests that reached the bot with this token/key."""
        with self._lock:
            return [r for r in self.received if r.token == token]

    def clear(self) -> None:
        with self._lock:
            self.received.clear()
