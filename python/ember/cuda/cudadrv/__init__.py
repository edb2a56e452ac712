"""``ember.cuda.cudadrv``: where numba keeps its driver-level names, for code
that reaches them as ``cuda.cudadrv.driver.AutoFreePointer`` (EMM plugins
do) or ``cuda.cudadrv.devicearray.DeviceNDArray``, and the libNVVM ember compiles
with (``cuda.cudadrv.nvvm.NVVM``)."""

from .. import devicearray  # noqa: F401
from . import driver  # noqa: F401
from . import nvvm  # noqa: F401
