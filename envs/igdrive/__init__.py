"""IGDrivSim in JAX: driving scenarios with a privileged expert and restricted perception.

So far: the data model (`datatypes.py`, Waymax's field names), invertible vehicle
dynamics (`dynamics.py`), oriented-box geometry (`geometry.py`) and driving metrics
(`metrics.py`). The scenario generator with its privileged expert, the environment,
perception restrictions, red-light metric and rendering come next (issue 5).
"""

from arenax.envs.igdrive.datatypes import (
    DT,
    LightState,
    ObjectMetadata,
    ObjectType,
    RoadgraphPoints,
    RoadType,
    Route,
    SimulatorState,
    TrafficLights,
    Trajectory,
)
from arenax.envs.igdrive.dynamics import DeltaLocal, InvertibleBicycle, actions_from_log, rollout

__all__ = [
    "DT",
    "DeltaLocal",
    "InvertibleBicycle",
    "LightState",
    "ObjectMetadata",
    "ObjectType",
    "RoadType",
    "RoadgraphPoints",
    "Route",
    "SimulatorState",
    "TrafficLights",
    "Trajectory",
    "actions_from_log",
    "rollout",
]
