"""sbmleq's own verified steady-state solver for general reaction networks.

``solve_steady_state`` (one state, the staged chain of :mod:`sbmleq.core.solve.chain`) and
``solve_batch`` (many parameter sets or initial states: :mod:`sbmleq.core.solve.batched`),
``solve_from_guess`` (from a learned prediction, verified: :mod:`sbmleq.core.solve.warm`).
See docs/general-solver.md.
"""

from sbmleq.core.solve.batched import solve_batch
from sbmleq.core.solve.chain import solve_steady_state
from sbmleq.core.solve.outcome import SolveSettings, SolveStatus, StageRecord, SteadyStateResult
from sbmleq.core.solve.warm import WarmStart, solve_from_guess

__all__ = ["solve_steady_state", "solve_batch", "solve_from_guess", "WarmStart", "SolveSettings", "SolveStatus", "StageRecord",
           "SteadyStateResult"]
