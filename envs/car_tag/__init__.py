"""Car Tag: a continuous pursuer-evader game (see `env.py`)."""

from arenax.envs.car_tag.env import EVADER, PURSUER, CarTag, obs_from_dict
from arenax.envs.car_tag.observation import OBS_FLAT_SIZE, CarTagObs, observe
from arenax.envs.car_tag.params import CarTagParams, CarTagState

__all__ = [
    "EVADER",
    "OBS_FLAT_SIZE",
    "PURSUER",
    "CarTag",
    "CarTagObs",
    "CarTagParams",
    "CarTagState",
    "obs_from_dict",
    "observe",
]
