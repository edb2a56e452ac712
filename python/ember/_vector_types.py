"""CUDA's vector types as numba-cuda names them: ``float32x4`` (alias
``float4``), ``int16x2`` (``short2``) ... ten base types with 1 to 4
elements ``x, y, z, w``. In kernels a vector is a tuple of its base type
(built by the front end: frontend.py vector_call); this table is shared by
the front end and the host-side names in ``ember.cuda``."""

BASES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
         "float32", "float64")
ATTRS = ("x", "y", "z", "w")
# C's names (numba-cuda's aliases; the sizes of this platform's C types)
_C_NAMES = {"char": "int8", "short": "int16", "int": "int32", "long": "int64",
            "longlong": "int64", "uchar": "uint8", "ushort": "uint16", "uint": "uint32",
            "ulong": "uint64", "ulonglong": "uint64", "float": "float32", "double": "float64"}

VECTOR_TYPES = {f"{b}x{n}": (b, n) for b in BASES for n in (1, 2, 3, 4)}
ALIASES = {f"{c}{n}": f"{b}x{n}" for c, b in _C_NAMES.items() for n in (1, 2, 3, 4)}


# ---------------------------------------------------------------------------
# Vectors made on the host: ``cuda.float32x4(1, 2, 3, 4)`` outside a kernel
# is a tuple of four np.float32 with .x .y .z .w; passed to a kernel (or an
# ember.jit function) it is the same vector there, as it is a tuple there
# too. numba has no host-side vectors (its vector types are kernel-only).
# ---------------------------------------------------------------------------

import numbers as _numbers

import numpy as _np


class HostVector(tuple):
    """The base of the host vector classes (one per vector type)."""

    __slots__ = ()
    vector_type = None   # the vector type's name ("float32x4")
    base = None          # its base type's name ("float32")

    def __repr__(self):
        return f"{self.vector_type}({', '.join(repr(v.item()) for v in self)})"

    def __reduce__(self):
        return (_make_host_vector, (self.vector_type, tuple(v.item() for v in self)))


def _attr(k):
    return property(lambda self: self[k], doc=f"element {k} ('{ATTRS[k]}')")


def _host_class(name):
    base, count = VECTOR_TYPES[name]
    ns = {"__slots__": (), "vector_type": name, "base": base, "__module__": __name__}
    ns.update({ATTRS[k]: _attr(k) for k in range(count)})
    return type(name, (HostVector,), ns)


HOST_CLASSES = {name: _host_class(name) for name in VECTOR_TYPES}
globals().update(HOST_CLASSES)  # pickle finds each class by its name here


def _element(name, base, v):
    """One element converted to the base type: integers for an integer base
    (in its range), real numbers for a float base."""
    dt = _np.dtype(base)
    if isinstance(v, (bool, _np.bool_)) or not isinstance(v, (_numbers.Real, _np.number)) \
            or isinstance(v, _np.complexfloating):
        raise TypeError(f"cuda.{name}(): elements are real numbers or vectors, not "
                        f"{type(v).__name__} {v!r}")
    if dt.kind in "iu":
        if not isinstance(v, (_numbers.Integral, _np.integer)):
            raise TypeError(f"cuda.{name}(): {base} elements are integers, not {v!r}")
        info = _np.iinfo(dt)
        if not info.min <= int(v) <= info.max:
            raise OverflowError(f"cuda.{name}(): {int(v)} does not fit in {base} "
                                f"({info.min} to {info.max})")
        return dt.type(int(v))
    return dt.type(float(v))


def make_host_vector(name, args):
    """``cuda.<name>(*args)`` on the host: each argument a number (one
    element) or a vector (its elements), as in kernels."""
    base, count = VECTOR_TYPES[name]
    items = []
    for a in args:
        if isinstance(a, HostVector):
            items += [_element(name, base, v) for v in a]
        else:
            items.append(_element(name, base, a))
    if len(items) != count:
        raise TypeError(f"cuda.{name}() needs {count} element{'s' if count != 1 else ''} "
                        f"(numbers, or vectors that add up to {count}), {len(items)} given")
    return HOST_CLASSES[name](items)


def _make_host_vector(name, values):  # unpickling
    return make_host_vector(name, values)
