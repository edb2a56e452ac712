"""``ember.cuda`` — the numba.cuda-compatible API.

Change ``from numba import cuda`` to ``from ember import cuda``. Arrays,
streams and events work on a CUDA GPU when one is present, and on the CPU
device otherwise (or with ``EMBER_DEVICE=cpu``).
"""

from ..errors import CudaAPIError, CudaDriverError, CudaSupportError  # noqa: F401
from .._compiler import jit  # noqa: F401
from .._compiler.dispatcher import compile_ptx, compile_ptx_for_current_device  # noqa: F401
from ._devicearray import DeviceNDArray  # noqa: F401
from ._interop import as_cuda_array, from_cuda_array_interface, from_dlpack  # noqa: F401
from ._intrinsics import *  # noqa: F401,F403  (kernel-only names: syncthreads, threadIdx ...)
from . import libdevice  # noqa: F401,E402  (numba.cuda.libdevice's names, kernel-only)
from . import bf16  # noqa: F401,E402  (numba-cuda's cuda.bf16: bfloat16 and its functions)
from ._devices import (Context, Device, MemoryInfo, MemoryPool, close,  # noqa: F401
                       current_context, detect, get_current_device, get_default_memory_pool,
                       get_default_pinned_memory_pool, gpus, is_available, list_devices,
                       require_context, select_device, synchronize)
from ._memory import (ManagedNDArray, MappedNDArray, defer_cleanup, device_array,  # noqa: F401
                      device_array_like, managed_array, mapped, mapped_array, mapped_array_like,
                      pinned, pinned_array, pinned_array_like, to_device)
from ._emm import (AutoFreePointer, BaseCUDAMemoryManager, GetIpcHandleMixin,  # noqa: F401
                   HostOnlyCUDAMemoryManager, ManagedMemory, MappedMemory, MemoryPointer,
                   OwnedPointer, PinnedMemory, set_memory_manager)
from ._ipc import IpcArrayHandle, IpcHandle, open_ipc_array  # noqa: F401
from ._args import In, InOut, Out  # noqa: F401
from ._foreign import Linker, LinkerError, NvrtcError, declare_device  # noqa: F401
from . import args  # noqa: F401  (numba.cuda.args: wrap_arg for kernel extensions)
from . import runtime  # noqa: F401  (numba's cuda.runtime: the CUDA release kernels compile with)
from ._profiler import profile_start, profile_stop, profiling  # noqa: F401
from ._reduce import Reduce, reduce  # noqa: F401
from . import devicearray  # noqa: F401  (numba's module of device-array helpers)
from ._graphs import Graph, graph_capture  # noqa: F401
from . import cudadrv  # noqa: F401,E402  (numba's cudadrv.driver names for EMM plugins)
from ._streams import (Event, Stream, default_stream, event, event_elapsed_time,  # noqa: F401
                       external_stream,
                       legacy_default_stream, per_thread_default_stream, stream)
from .. import types  # noqa: F401  (numba-cuda's docs: from numba.cuda import types)
from ..types import (void, boolean, bool_, b1, int8, int16, int32, int64,  # noqa: F401
                     uint8, uint16, uint32, uint64, float16, float32, float64, complex64,
                     complex128, intp, uintp, i1, i2, i4, i8, u1, u2, u4, u8, f2, f4, f8, c8,
                     c16, CPointer, voidptr,
                     from_dtype, as_dtype)


def is_cuda_array(obj):
    """True when ``obj`` exposes ``__cuda_array_interface__``."""
    try:
        return hasattr(obj, "__cuda_array_interface__")
    except Exception:
        return False
