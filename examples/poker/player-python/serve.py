#!/usr/bin/env python3
"""Runs the player service from a checkout: ``serve.py --listen 127.0.0.1:50051``
(same as ``python -m player_service``; needs ``angzarr_client`` installed)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from player_service.__main__ import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
