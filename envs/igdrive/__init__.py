"""IGDrivSim in JAX: driving scenarios with a privileged expert and restricted perception.

The data model (`datatypes.py`, Waymax's field names), invertible vehicle dynamics
(`dynamics.py`), oriented-box geometry (`geometry.py`), driving metrics and
episode metrics (`metrics.py`), procedural scenes - curved multi-lane roads,
four-way intersections with lights, merges - driven by a privileged IDM expert
(`layout.py`, `road.py`, `expert.py`, `scene_map.py`, `generator.py`), scenario
files (`scenario_io.py`), perception restrictions (`perception.py`), the SDC's
observation (`observation.py`), reactive IDM traffic (`reactive.py`), the
environment (`env.py`) and rendering (`render.py`).
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
