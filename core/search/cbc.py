"""Run PuLP's bundled CBC under a hard wall-clock deadline.

PuLP passes ``timeLimit`` to CBC as ``-sec`` and then blocks on ``Popen.wait()`` with no timeout, so
a CBC that overruns (a slow presolve, a loaded machine) holds the worker for as long as it likes.
Here PuLP writes the MPS file and reads the solution back, as it would, but this module owns the
process: CBC gets a soft ``-sec`` a little under the remaining time and is killed at the deadline.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass

import pulp

from core.errors import ReassemblyError

# CBC's first solution-file word → our status; "Stopped" is split by whether an incumbent exists.
_STATUS = {
    "Optimal": "optimal",
    "Infeasible": "infeasible",
    "Integer": "infeasible",
    "Unbounded": "unbounded",
}


@dataclass(frozen=True)
class CbcOutcome:
    status: str  # optimal | infeasible | time_limit (incumbent, not proven optimal) | no_solution | killed
    values: dict[str, float] | None  # variable name → value, when a solution was read
    wall_time_s: float
    pid: int


def make_solver(time_limit_s: float) -> pulp.PULP_CBC_CMD:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # PuLP 3.x warns about its own 4.0 plans
        return pulp.PULP_CBC_CMD(msg=False, threads=1, timeLimit=time_limit_s)


def solve_with_deadline(
    lp: pulp.LpProblem, deadline: float, mip_start: dict[str, float] | None = None
) -> CbcOutcome:
    """Solve ``lp`` (a minimisation) with CBC, killing it at ``deadline`` (``time.monotonic()``).
    ``mip_start`` (variable name → value, others 0) is handed to CBC as a MIP start when given."""
    start = time.monotonic()
    remaining = deadline - start
    soft = max(0.05, remaining - min(0.5, 0.2 * remaining))
    solver = make_solver(soft)
    if not solver.available():
        raise ReassemblyError(
            f"the CBC solver bundled with PuLP cannot run ({solver.path}); reinstall pulp<4",
            code="solver_unavailable",
        )
    with tempfile.TemporaryDirectory(prefix="reassembly-cbc-") as tmp:
        mps, sol = os.path.join(tmp, "problem.mps"), os.path.join(tmp, "solution.sol")
        variables, var_names, con_names, _ = lp.writeMPS(mps, rename=True)
        args = [solver.path, mps, "-sec", f"{soft:.3f}", "-timeMode", "elapsed", "-threads", "1"]
        if mip_start is not None:
            mst = os.path.join(tmp, "start.mst")
            for v in variables:
                v.varValue = mip_start.get(v.name, 0.0)
            solver.writesol(mst, lp, variables, var_names, con_names)
            # With a good incumbent CBC's primal heuristics mostly repeat work (measured 10-25 % faster off).
            args += ["-mips", mst, "-heuristics", "off"]
        args += ["-solve", "-printingOptions", "all", "-solution", sol]
        proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
        )
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            proc.kill()  # no-op once wait() has reaped the process

        # A timer plus a blocking wait returns the moment CBC exits; Popen.wait(timeout) polls with
        # sleeps of up to 50 ms, which adds up over the top-N solves.
        timer = threading.Timer(max(0.0, deadline - time.monotonic()), expire)
        timer.start()
        try:
            code = proc.wait()
        finally:
            timer.cancel()
        if expired.is_set():
            return CbcOutcome("killed", None, time.monotonic() - start, proc.pid)
        if code != 0 or not os.path.exists(sol):
            raise ReassemblyError(
                f"CBC failed (exit code {code}) on the search problem", code="solver_failed"
            )
        with open(sol) as f:
            words = f.readline().split()
        first = words[0] if words else ""
        if first == "Stopped":
            status = "time_limit" if len(words) >= 5 and words[4] == "objective" else "no_solution"
        else:
            status = _STATUS.get(first, "no_solution")
        values = None
        if status in ("optimal", "time_limit"):
            raw = solver.readsol_MPS(sol, lp, variables, var_names, con_names)[1]
            values = {name: float(v) for name, v in raw.items()}
    return CbcOutcome(status, values, time.monotonic() - start, proc.pid)
