"""numba's ``numba.cuda.args`` under its public name: the argument hints
(``In``, ``Out``, ``InOut``; python/ember/cuda/_args.py says how each moves
an array) and ``wrap_arg``, which kernel extensions (``kernel.extensions``,
see Dispatcher) use to give an argument a default hint."""

import numpy as np

from ._args import ArgHint, In, InOut, Out

__all__ = ["ArgHint", "In", "Out", "InOut", "wrap_arg"]


def wrap_arg(value, default=InOut):
    """`value` itself if it is already a hint, `default(value)` for a host
    NumPy array, and any other value (a device array, a number) unchanged:
    only host arrays move (numba wraps everything, then moves only arrays)."""
    if isinstance(value, ArgHint) or not isinstance(value, np.ndarray):
        return value
    return default(value)
