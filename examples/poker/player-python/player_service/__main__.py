"""The player aggregate as a standalone gRPC ``CommandHandlerService``, for
``--handler player=URL`` or a sidecar deployment.

    python -m player_service --listen 127.0.0.1:50051

``--listen`` defaults to ``$LISTEN``, else ``127.0.0.1:$PORT`` (``PORT``
default 50051): localhost only unless told otherwise. Port 0 picks a free
port; the bound address is printed as ``listening on HOST:PORT``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from angzarr_client import serve

from .player import aggregate


def default_listen() -> str:
    return os.environ.get("LISTEN") or f"127.0.0.1:{os.environ.get('PORT', '50051')}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m player_service", description="The player aggregate over gRPC.")
    parser.add_argument("--listen", default=default_listen(), help="HOST:PORT to bind (default %(default)s)")
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "WARNING"), help="Python logging level")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    def announce(running):
        print(f"listening on {running.address}", flush=True)

    try:
        serve(args.listen, aggregate, on_start=announce)
    except OSError as e:
        print(f"player_service: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
