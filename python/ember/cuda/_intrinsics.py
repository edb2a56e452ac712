"""Host-side names for what only kernels can use: ``cuda.syncthreads``,
``cuda.threadIdx``, ``cuda.local.array``, ``cuda.atomic.add`` ...

numba.cuda exposes these as module attributes, so code may import them
(``from numba.cuda import syncthreads``) or mention them outside a kernel.
Here each is a stub that remembers its dotted path under ``cuda``; the
compiler's front end resolves a stub exactly as it resolves
``cuda.<path>`` written in the kernel. Calling one from the host raises a
TypeError that says so.
"""

from .. import _ember
from .._vector_types import ALIASES, VECTOR_TYPES

__all__ = []


class Intrinsic:
    """A kernel-only name (``cuda.<path>``)."""

    __slots__ = ("_ember_cuda_path",)

    def __init__(self, path):
        self._ember_cuda_path = path

    def __repr__(self):
        return f"<ember kernel intrinsic cuda.{self._ember_cuda_path}>"

    def __call__(self, *args, **kwargs):
        raise TypeError(f"cuda.{self._ember_cuda_path}() can only be used inside a kernel "
                        "or a device function (@cuda.jit)")


class Namespace(Intrinsic):
    """A kernel-only namespace (``cuda.atomic``, ``cuda.threadIdx``)."""

    __slots__ = ("_members",)

    def __init__(self, path, members):
        super().__init__(path)
        self._members = {m: Intrinsic(f"{path}.{m}") for m in members}

    def __getattr__(self, name):
        try:
            return self._members[name]
        except KeyError:
            raise AttributeError(f"cuda.{self._ember_cuda_path} has no attribute "
                                 f"'{name}'") from None

    def __dir__(self):
        return list(self._members)

    def __call__(self, *args, **kwargs):
        raise TypeError(f"cuda.{self._ember_cuda_path} is not callable")


# The intrinsics of core/intrinsics.def named cuda.<name> (the thread and
# block indices are namespaces, below), then the kernel-only names the
# front end handles itself (statements, and functions it rewrites).
_TABLE = {name: info for name, info in _ember.intrinsics().items()
          if info[0] == f"cuda.{name}"}
_VALUES = [name for name, (_, _, most, kind) in _TABLE.items() if kind == "thread" and most == 0]
_FUNCTIONS = [name for name in _TABLE if name not in _VALUES] + (
    "syncthreads syncwarp threadfence threadfence_block threadfence_system selp cbrt").split()
_NAMESPACES = {
    "threadIdx": ("x", "y", "z"), "blockIdx": ("x", "y", "z"),
    "blockDim": ("x", "y", "z"), "gridDim": ("x", "y", "z"),
    "local": ("array",), "shared": ("array",), "const": ("array_like",),
    "fp16": ("hadd hsub hmul hdiv hneg habs hfma heq hne hlt hle hgt hge hmax hmin hsqrt "
             "hrsqrt hrcp hceil hfloor htrunc hrint hlog hlog2 hlog10 hexp hexp2 hexp10 hcos "
             "hsin").split(),
    "atomic": ("add", "sub", "max", "min", "nanmax", "nanmin", "and_", "or_", "xor", "exch",
               "inc", "dec", "cas", "compare_and_swap"),
}

# The vector types (cuda.float32x4) and their C names (cuda.float4): the
# user-facing objects of the one table in _vector_types.
for _name, _vt in VECTOR_TYPES.items():
    globals()[_name] = _vt.user_facing_object
    __all__.append(_name)
for _name, _target in ALIASES.items():
    globals()[_name] = VECTOR_TYPES[_target].user_facing_object
    __all__.append(_name)
del _target, _vt

for _name in _FUNCTIONS + _VALUES:
    globals()[_name] = Intrinsic(_name)
    __all__.append(_name)
for _name, _members in _NAMESPACES.items():
    globals()[_name] = Namespace(_name, _members)
    __all__.append(_name)
del _name, _members
