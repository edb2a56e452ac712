"""``ember.cuda.runtime`` — numba's ``cuda.runtime``: which CUDA release
ember's kernels are compiled with.

numba asks the CUDA runtime library (cudart) for its version. ember does not
use cudart: kernels go through libNVVM and the driver API. What decides the
code a kernel gets is the toolkit libNVVM comes from, so ``get_version()``
is that toolkit's release, as libNVVM states it in the header of the PTX it
writes ("Cuda compilation tools, release 13.0, V13.0.88"). It is read once,
by compiling an empty module; without libNVVM it is ``CudaSupportError``,
listing where ember looked.
"""

import re
import threading

__all__ = ["get_version", "is_supported_version", "supported_versions"]

# The releases whose libNVVM ember drives (NVVM IR 2.0 with typed pointers):
# CUDA 12.x (the nvidia-cuda-nvcc wheel's) and 13.0. Only 13.0 has compiled
# and been assembled by ptxas in ember's tests.
supported_versions = tuple((12, minor) for minor in range(10)) + ((13, 0),)

_EMPTY_MODULE = """target datalayout = "e-i64:64-i128:128-v16:16-v32:32-n16:32:64"
target triple = "nvptx64-nvidia-cuda"
!nvvmir.version = !{!0}
!0 = !{i32 2, i32 0}
"""

_lock = threading.Lock()
_version = None


def _release_of_ptx(ptx):
    """(major, minor) from a PTX header's "release X.Y" line; None when absent."""
    m = re.search(r"Cuda compilation tools, release (\d+)\.(\d+)", ptx)
    return (int(m.group(1)), int(m.group(2))) if m else None


def get_version():
    """The CUDA release of the libNVVM ember compiles kernels with, as
    (major, minor)."""
    global _version
    with _lock:
        if _version is None:
            from .. import _ember
            ptx = _ember.nvvm_compile(_EMPTY_MODULE, cc=(8, 0))
            version = _release_of_ptx(ptx)
            if version is None:
                from ..errors import CudaSupportError
                raise CudaSupportError("cuda.runtime.get_version: libNVVM's PTX does not state "
                                       "its CUDA release (no 'Cuda compilation tools, release "
                                       "X.Y' line in its header)")
            _version = version
        return _version


def is_supported_version():
    """Whether get_version() is one of supported_versions."""
    return get_version() in supported_versions
