"""Gap environments with a known optimum: the expert sees a hidden state the agent
may not (`gap=True`), so imitation alone can fail. Each has a privileged
`expert_action(state, params)`, a hand-written Bayes-optimal `optimal_action(obs,
params)` from the agent's observation, and `params.optimal_return`.

- `TigerDoor` (`tiger_door.py`): optimum 1 - button_cost with the gap, 1 without.
- `PoisonedDoors` (`poisoned_doors.py`): optimum 1 with the gap, 2 without; copying
  the expert earns -2/3 with the gap.
"""

from arenax.envs.gap.poisoned_doors import PoisonedDoors, PoisonedDoorsParams
from arenax.envs.gap.tiger_door import TigerDoor, TigerDoorParams

__all__ = ["PoisonedDoors", "PoisonedDoorsParams", "TigerDoor", "TigerDoorParams"]
