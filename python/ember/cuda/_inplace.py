"""Host NumPy arrays used in place on the CPU device.

The CPU device's memory is host memory, so a kernel (or a cuda-target
ufunc) launched there with host NumPy arrays can work on their memory
directly instead of copying them in and back. The result must be the one
the copying launch gives: each argument a snapshot taken before the launch,
and only the written ones copied back, in argument order. That holds for an
array used in place when

- it is read-only in the kernel, whatever it overlaps: an array it overlaps
  that the kernel writes is then copied (below), so nothing writes its
  memory during the launch, and the copy back comes after, as before;
- it is written and overlaps no other array argument: nothing else sees
  its memory during the launch.

An array is also copied when the kernel's code could not use its memory as
it is: misaligned data, or a layout other than C- or F-contiguous (the
kernel was specialised for the contiguous copy). Arrays of non-native byte
order are refused before (typeof). On the CPU device a launch completes
before it returns, so later host writes are never seen by it.
"""

import numpy as np

from .. import _ember

# np.byte_bounds; NumPy 2 moved it to np.lib.array_utils
byte_bounds = getattr(np, "byte_bounds", None) or np.lib.array_utils.byte_bounds

__all__ = ["usable_in_place", "host_view", "place_arguments"]


def usable_in_place(a):
    """Whether the kernel's code can work on host array `a`'s memory."""
    f = a.flags
    return (a.size > 0 and a.dtype.isnative and f["ALIGNED"] and
            (f["C_CONTIGUOUS"] or f["F_CONTIGUOUS"]))


def host_view(a, dev):
    """A DeviceNDArray over host array `a`'s memory on the CPU device `dev`
    (no copy; it keeps `a` alive)."""
    from ._devicearray import DeviceNDArray
    lo, hi = byte_bounds(a)
    return _ember.from_device_pointer(DeviceNDArray, dev.kind, dev.id, lo, hi - lo, a.shape,
                                      a.strides, a.dtype, a,
                                      offset=a.__array_interface__["data"][0] - lo)


def _leaves(value, path, out):
    """The host arrays in an argument (also inside tuples), with their paths."""
    if isinstance(value, np.ndarray):
        out.append((path, value))
    elif isinstance(value, tuple):
        for k, v in enumerate(value):
            _leaves(v, path + (k,), out)


def place_arguments(args, written, dev, copy):
    """The launch arguments for `args` on the CPU device `dev`: host arrays
    in place where the copying launch's result is kept (module docstring;
    python/ext/launch.c applies the same rule on its fast path),
    else `copy(array, path, write)` (which copies it to the device and, for
    a written one, queues the copy back). `written[i]`: the kernel writes
    parameter i."""
    leaves = []
    for i, a in enumerate(args):
        _leaves(a, (i,), leaves)
    if not leaves:
        return list(args)
    bounds = [byte_bounds(a) for _, a in leaves]
    placed = {}
    for k, (path, a) in enumerate(leaves):
        write = written[path[0]]
        alone = not write or not any(
            j != k and bounds[j][0] < bounds[k][1] and bounds[k][0] < bounds[j][1]
            for j in range(len(leaves)))
        # in place: the array itself (the launch packs NumPy memory directly)
        placed[path] = a if alone and usable_in_place(a) else copy(a, path, write)

    def rebuild(value, path):
        if path in placed:
            return placed[path]
        if isinstance(value, tuple):
            return tuple(rebuild(v, path + (k,)) for k, v in enumerate(value))
        return value

    return [rebuild(a, (i,)) for i, a in enumerate(args)]
