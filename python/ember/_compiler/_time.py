"""NumPy datetime64 / timedelta64 kernel arguments.

In a kernel they are their own types (core/types_time.c), described as
"datetime64[D]", "timedelta64[ns]" or "timedelta64" (no unit); their values
are int64 counts of the unit, NaT being the smallest int64. So an array of
them travels as an int64 view of the same memory (the kernel's writes land
in the caller's array) and a scalar as its count.
"""

import numpy as np

__all__ = ["time_desc", "is_time_desc", "has_time", "as_int64"]

_UNITS = ("Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as", "generic")


def time_desc(dt, what):
    """The type descriptor of a datetime64 / timedelta64 dtype."""
    unit, count = np.datetime_data(dt)
    if unit not in _UNITS or count != 1:
        raise TypeError(f"{what}: dtype {dt} cannot be passed to a kernel (datetime64 and "
                        "timedelta64 of one unit are: [D], [ns] ..., not multiples such as "
                        "[2D])")
    if not dt.isnative:
        raise TypeError(f"{what}: dtype {dt.str} is not in the machine's byte order")
    name = "datetime64" if dt.kind == "M" else "timedelta64"
    return name if unit == "generic" else f"{name}[{unit}]"


def is_time_desc(d):
    return isinstance(d, str) and d.startswith(("datetime64", "timedelta64"))


def has_time(d):
    """Whether argument type descriptor `d` is or holds a time type."""
    if is_time_desc(d):
        return True
    if isinstance(d, tuple) and d[0] == "array":
        return is_time_desc(d[1])
    return isinstance(d, tuple) and d[0] == "tuple" and any(has_time(x) for x in d[1])


def as_int64(a):
    """Argument `a` with datetime64 / timedelta64 values as int64 (arrays:
    views of the same memory; also inside tuples)."""
    from ..cuda._devicearray import DeviceNDArray
    if isinstance(a, (np.datetime64, np.timedelta64)):
        return int(a.view(np.int64))
    if isinstance(a, (np.ndarray, DeviceNDArray)) and a.dtype.kind in "mM":
        return a.view(np.int64)
    if isinstance(a, tuple):
        items = [as_int64(x) for x in a]
        return type(a)(*items) if hasattr(type(a), "_fields") else tuple(items)
    return a
