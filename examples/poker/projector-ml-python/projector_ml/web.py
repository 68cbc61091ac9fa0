"""A tiny read-only HTTP API over the model (standard library only):

- ``GET /predict/<player-root-uuid>``: the player's prediction (JSON), 404 for
  a player never seen, 400 for a malformed UUID;
- ``GET /model``: weights by feature, update count, mean progressive log-loss;
- ``GET /healthz``: ``{"status": "ok"}``.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .model import MoneyModel

log = logging.getLogger("projector_ml.http")


def split_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (IPv4 or a name; port 0 picks one) as ``(host, port)``."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or ":" in host:
        raise ValueError(f"expected HOST:PORT, got {address!r}")
    return host or "127.0.0.1", int(port)


def make_handler(model: MoneyModel) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "projector-ml"

        def do_GET(self):  # noqa: N802 - http.server's naming
            path = self.path.split("?", 1)[0].rstrip("/")
            if path == "/healthz":
                return self._send(HTTPStatus.OK, {"status": "ok"})
            if path == "/model":
                return self._send(HTTPStatus.OK, model.summary())
            if path.startswith("/predict/"):
                text = path.removeprefix("/predict/")
                try:
                    root = uuid.UUID(text)
                except ValueError:
                    return self._send(HTTPStatus.BAD_REQUEST, {"error": f"not a UUID: {text!r}"})
                prediction = model.predict(root.bytes)
                if prediction is None:
                    return self._send(HTTPStatus.NOT_FOUND, {"error": f"no events seen for player {root}"})
                return self._send(HTTPStatus.OK, {"player_root": str(root), **prediction})
            return self._send(HTTPStatus.NOT_FOUND, {"error": "try GET /predict/<player-root-uuid>"})

        def _send(self, status: HTTPStatus, body: dict) -> None:
            data = json.dumps(body, sort_keys=True).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args):  # noqa: A002 - http.server's signature
            log.debug("%s " + format, self.address_string(), *args)

    return Handler


class PredictionServer:
    """The HTTP API serving in a background thread."""

    def __init__(self, address: str, model: MoneyModel):
        host, port = split_address(address)
        self.httpd = ThreadingHTTPServer((host, port), make_handler(model))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.address = f"{host}:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="projector-ml-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join()

    def __enter__(self) -> PredictionServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
