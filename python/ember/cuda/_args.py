"""cuda.In / cuda.Out / cuda.InOut: how a host array passed to a kernel
moves (numba's argument hints). Without a hint ember copies a host array
in and copies it back only when the kernel writes it (on the CPU device it
works in place); a hint says more:

- ``In(a)``: copied in, never back — the kernel's writes stay on the device
  (on the CPU device a written ``In`` array is a copy, so ``a`` is untouched);
- ``Out(a)``: not copied in (the kernel sees uninitialised memory on a GPU),
  copied back;
- ``InOut(a)``: copied in and back.
"""

import numpy as np

__all__ = ["ArgHint", "In", "Out", "InOut", "split_hints"]


class ArgHint:
    copy_in = copy_out = True

    def __init__(self, value):
        if not isinstance(value, np.ndarray):
            raise TypeError(f"cuda.{type(self).__name__}() takes a host NumPy array, not "
                            f"{type(value).__name__} (device arrays need no hint)")
        self.value = value

    def __repr__(self):
        return f"cuda.{type(self).__name__}({self.value!r})"


class In(ArgHint):
    copy_out = False


class Out(ArgHint):
    copy_in = False


class InOut(ArgHint):
    pass


def split_hints(args):
    """(arguments with the hints' arrays, {position: hint})."""
    hints = {i: a for i, a in enumerate(args) if isinstance(a, ArgHint)}
    if not hints:
        return args, hints
    return tuple(a.value if i in hints else a for i, a in enumerate(args)), hints
