"""ember — write GPU kernels in Python; run them on NVIDIA GPUs or on every CPU core.

The Python API follows numba.cuda, so that moving code over means changing
one import::

    from ember import cuda          # instead of: from numba import cuda

This package is the thin Python layer over libember (C): ``ember.cuda`` is the
numba.cuda-compatible surface (``@cuda.jit`` kernels, device arrays, streams,
events, devices),
``ember.cpu`` describes the CPU device that runs kernels when no GPU is
present, ``ember.jit`` / ``ember.njit`` compile plain functions for the CPU
(numba's ``@njit``), ``ember.vectorize`` / ``ember.guvectorize`` build NumPy
ufuncs (cpu, parallel and cuda targets), and ``ember.runtime`` exposes the runtime's transfer counters.
"""

__version__ = "0.1.0"

from . import errors  # noqa: F401  (the extension raises these)
from . import _ember  # noqa: F401
from . import runtime  # noqa: F401
from ._cpu import cpu  # noqa: F401
from . import cuda  # noqa: F401
from . import types  # noqa: F401
from . import np  # noqa: F401  (ember.np.numpy_support, as numba.np.numpy_support)
from ._jit import jit, njit, prange  # noqa: F401
from ._ufunc import guvectorize, vectorize  # noqa: F401
from . import _dask as _dask_hooks
_dask_hooks.install()   # DeviceNDArray in Dask: registered when Dask is imported (_dask.py)
from .types import (Array, Tuple, UniTuple, b1, bool_, boolean, c8, c16,  # noqa: F401
                    complex64, complex128, f2, f4, f8, float16, float32, float64, from_dtype,
                    as_dtype, i1, i2, i4, i8,
                    int8, int16, int32, int64, intp, none, typeof, u1, u2, u4, u8,
                    uint8, uint16, uint32, uint64, uintp, void)
# C's type names, as numba exports them (``from numba import double``)
from .types import (byte, char, uchar, short, ushort, intc, uintc, int_, uint,  # noqa: F401
                    long_, ulong, longlong, ulonglong, ssize_t, size_t, float_, double)

__all__ = ["cuda", "cpu", "jit", "njit", "vectorize", "guvectorize", "runtime", "errors", "types", "typeof", "__version__",
           "void", "none", "boolean", "bool_", "int8", "int16", "int32", "int64",
           "uint8", "uint16", "uint32", "uint64", "float16", "float32", "float64", "complex64",
           "complex128", "intp", "uintp", "Array", "Tuple", "UniTuple", "from_dtype",
           "as_dtype", "np"]
