#!/usr/bin/env python3
"""The e2e's projector: reads the player domain's events and keeps nothing.

The lag scenario configures a projector at a port where this does not run
yet (its lag rises as commands arrive), then starts it there (the
coordinator's retries reach it and the lag falls).

    projector.py --listen 127.0.0.1:PORT     # prints "listening on HOST:PORT"
"""

import argparse
import sys

from angzarr_client import Projector, serve

projector = Projector("watcher")  # no handlers: every event is read and counted, none changes anything


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    args = parser.parse_args()
    serve(args.listen, projector, on_start=lambda running: print(f"listening on {running.address}", flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
