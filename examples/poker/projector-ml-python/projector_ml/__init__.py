"""The poker example's ``player-ml`` projector: an online model of players'
money movements (numpy only), written with ``angzarr_client``."""

from .model import FEATURES, KINDS, Config, MoneyModel
from .projector import DOMAIN, NAME, build, load_state, prediction_struct, save_state
from .web import PredictionServer

__all__ = [
    "DOMAIN",
    "FEATURES",
    "KINDS",
    "NAME",
    "Config",
    "MoneyModel",
    "PredictionServer",
    "build",
    "load_state",
    "prediction_struct",
    "save_state",
]
