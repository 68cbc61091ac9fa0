"""The poker example's player aggregate, written with ``angzarr_client``."""

from .player import DOMAIN, aggregate, available

__all__ = ["DOMAIN", "aggregate", "available"]
