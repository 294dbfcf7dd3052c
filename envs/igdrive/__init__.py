"""IGDrivSim in JAX: driving scenarios with a privileged expert and restricted perception.

Data model (`datatypes.py`, Waymax's field names) and invertible vehicle dynamics
(`dynamics.py`) so far; the scenario generator, environment, perception masks,
metrics and rendering come next (issue 5).
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
