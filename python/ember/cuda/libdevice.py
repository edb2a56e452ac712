"""numba.cuda.libdevice's names for kernels (`from ember.cuda import libdevice`,
then `libdevice.sinf(x)` in a kernel): each is a kernel-only stub that the
front end compiles through python/ember/_compiler/_libdevice.py (its TABLE
lists the functions supported)."""

from .._compiler._libdevice import TABLE as _TABLE
from ._intrinsics import Intrinsic as _Intrinsic

__all__ = sorted(_TABLE)

for _name in __all__:
    globals()[_name] = _Intrinsic(f"libdevice.{_name}")
del _name
