"""IGDrivSim in JAX: driving scenarios with a privileged expert and restricted perception.

So far: the data model (`datatypes.py`, Waymax's field names), invertible vehicle
dynamics (`dynamics.py`), oriented-box geometry (`geometry.py`), driving metrics
(`metrics.py`), procedural scenes on multi-lane curved roads with a traffic light
and a privileged IDM expert (`road.py`, `expert.py`, `generator.py`), scenario files
(`scenario_io.py`), perception restrictions (`perception.py`), the SDC's
observation (`observation.py`) and the environment with log-replay traffic
(`env.py`). Intersections and merges, reactive (IDM) traffic, rendering, the CLI and
the throughput benchmark come next (issue 5).
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
