#!/usr/bin/env python3
"""Runs the ML projector from a checkout: ``serve.py --listen 127.0.0.1:50061``
(same as ``python -m projector_ml``; needs ``angzarr_client`` and numpy)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from projector_ml.__main__ import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
