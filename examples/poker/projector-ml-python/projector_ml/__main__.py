"""The ``player-ml`` projector as a gRPC ``angzarr.ProjectorService`` plus a
small HTTP API (``GET /predict/<player-root-uuid>``).

    python -m projector_ml --listen 127.0.0.1:50061 --http-listen 127.0.0.1:8099

``--listen`` defaults to ``$LISTEN``, else ``127.0.0.1:$PORT`` (``PORT``
default 50061); ``--http-listen`` to ``$HTTP_LISTEN``, else
``127.0.0.1:8099``. Port 0 picks a free port; the bound addresses are printed
as ``listening on HOST:PORT`` and ``http listening on HOST:PORT``. With
``--state FILE`` the model (with the last sequence it applied per player)
survives restarts.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from angzarr_client import serve

from .model import Config
from .projector import build
from .web import PredictionServer


def default_listen() -> str:
    return os.environ.get("LISTEN") or f"127.0.0.1:{os.environ.get('PORT', '50061')}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m projector_ml", description="The player-ml projector over gRPC and HTTP.")
    parser.add_argument("--listen", default=default_listen(), help="gRPC HOST:PORT (default %(default)s)")
    parser.add_argument(
        "--http-listen",
        default=os.environ.get("HTTP_LISTEN", "127.0.0.1:8099"),
        help="HTTP HOST:PORT of GET /predict/<uuid> (default %(default)s)",
    )
    parser.add_argument("--state", default=os.environ.get("STATE_FILE"), help="JSON file keeping the model across restarts")
    parser.add_argument("--seed", type=int, default=Config.seed, help="seed of the initial weights (default %(default)s)")
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "WARNING"), help="Python logging level")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    try:
        projector, model = build(state_path=args.state, config=Config(seed=args.seed))
        http = PredictionServer(args.http_listen, model)
    except (OSError, ValueError, KeyError) as e:
        print(f"projector_ml: {e}", file=sys.stderr)
        return 1

    def announce(running):
        print(f"listening on {running.address}", flush=True)
        print(f"http listening on {http.address}", flush=True)

    try:
        serve(args.listen, projector, on_start=announce)
    except OSError as e:
        print(f"projector_ml: {e}", file=sys.stderr)
        return 1
    finally:
        http.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
