"""``ember.cuda.cudadrv.driver``: the public names numba's driver module
gives EMM plugins, IPC users and driver-level code — the memory pointer
classes, the memory manager base classes, ``set_memory_manager``,
``IpcHandle``, ``MemoryInfo``, ``Context``, ``Linker``, its ``Stream`` and
``Event`` classes and its error classes (ember's own objects, from
cuda/_emm.py, cuda/_ipc.py ...) — and its raw memory operations on
numba's memory objects: ``device_memset`` (cuMemsetD8 on a GPU, memset on
the cpu device), ``host_to_device`` / ``device_to_host`` /
``device_to_device``, ``device_memory_size``, ``host_memory_size`` and
``is_device_memory``, and the ``driver`` object's ``get_device_count``.

Device memory here is anything with numba's ``__cuda_memory__`` mark that
ember made: device arrays, mapped and managed arrays, and the
MemoryPointer family (``Context.memalloc``, ``memhostalloc(mapped=True)``,
an EMM plugin's). Every operation is bounded by the memory the object
knows it has (``device_memory_size``): a size beyond it is a ValueError,
never a write past the allocation. ember has no ctypes driver object: the
driver calls themselves (``cuMemsetD8`` ...) are not exposed.
"""

import numpy as np

from ... import _ember
from ...errors import CudaAPIError, CudaDriverError  # noqa: F401
from .. import _graphs
from .._devicearray import DeviceNDArray
from .._devices import Context, MemoryInfo, get_current_device, gpus  # noqa: F401
from .._emm import (AutoFreePointer, BaseCUDAMemoryManager, GetIpcHandleMixin,  # noqa: F401
                    HostOnlyCUDAMemoryManager, ManagedMemory, MappedMemory, MemoryPointer,
                    OwnedPointer, PinnedMemory, pointer_value, set_memory_manager)
from .._foreign import Linker, LinkerError, NvrtcError  # noqa: F401
from .._ipc import IpcHandle  # noqa: F401
from .._memory import MappedNDArray, _byte_bounds
from .._streams import Event, Stream, lowlevel_stream  # noqa: F401


class Driver:
    """numba's ``driver`` object, the part that is not raw driver calls."""

    @property
    def is_available(self):
        return _ember.device_count("cuda") > 0

    def get_device_count(self):
        """The devices ``cuda.select_device`` takes: the CUDA devices, or 1
        (the CPU device) without a GPU, as ``cuda.gpus``."""
        return len(gpus)

    def get_device(self, devnum=0):
        return gpus[devnum]

    def list_devices(self):
        return list(gpus)


driver = Driver()


# ---- device memory objects ---------------------------------------------------

def is_device_memory(obj):
    """numba's test: the object carries the ``__cuda_memory__`` mark."""
    return bool(getattr(obj, "__cuda_memory__", False))


def require_device_memory(obj):
    if not is_device_memory(obj):
        raise TypeError(f"Not a CUDA memory object: {type(obj).__name__}")


def _mapped_root(ary):
    while isinstance(ary.base, MappedNDArray):
        ary = ary.base
    return ary


def _address_and_extent(obj):
    """(device, device address, bytes from there to the end of the memory
    the object knows) for an ember device-memory object."""
    require_device_memory(obj)
    if isinstance(obj, DeviceNDArray):
        return obj.device, obj.device_pointer, obj.buffer_size - obj.offset
    if isinstance(obj, MappedNDArray):
        if obj._ember_device is None:
            raise TypeError("a MappedNDArray that ember did not allocate")
        host = obj.__array_interface__["data"][0]
        hi = _byte_bounds(_mapped_root(obj))[1]
        return obj._ember_device, obj.device_address(host), hi - host
    size = getattr(obj, "_cuda_memsize_", None)
    if size is None or not hasattr(obj, "device_ctypes_pointer"):
        raise TypeError(f"{type(obj).__name__} is CUDA memory ember cannot address: pass a "
                        "device array, a mapped array or a MemoryPointer")
    ctx = getattr(obj, "context", None)
    dev = getattr(ctx, "device", None) or get_current_device()
    return dev, pointer_value(obj.device_ctypes_pointer), size


def device_pointer(obj):
    """The device address of a device-memory object, as an int."""
    return _address_and_extent(obj)[1]


def device_memory_size(obj):
    """The bytes of device memory from the object's address to the end of
    its allocation (numba: the allocation's size)."""
    return _address_and_extent(obj)[2]


def _device_bytes(obj, size, what):
    """A uint8 device array over the first ``size`` bytes of ``obj``'s
    memory, refused (ValueError) when they go past it."""
    dev, ptr, extent = _address_and_extent(obj)
    size = int(size)
    if not 0 <= size <= extent:
        raise ValueError(f"{what}: {size} bytes do not fit in the {extent} bytes of device "
                         f"memory of the {type(obj).__name__}")
    if isinstance(obj, DeviceNDArray):
        return obj._view(DeviceNDArray, 0, (size,), (1,), np.dtype(np.uint8))
    return _ember.from_device_pointer(DeviceNDArray, dev.kind, dev.id, ptr, size, (size,), (1,),
                                      np.dtype(np.uint8), obj)


# ---- host memory -------------------------------------------------------------

def _host_flat(obj, what):
    """All the bytes of a contiguous host buffer (a NumPy array or any
    buffer-protocol object: bytearray, a PinnedMemory ...) as a uint8 view."""
    if isinstance(obj, np.ndarray):
        if not (obj.flags.c_contiguous or obj.flags.f_contiguous):
            raise ValueError(f"{what}: the host array must be contiguous")
        return obj.ravel(order="K").view(np.uint8)
    try:
        return np.frombuffer(memoryview(obj).cast("B"), dtype=np.uint8)
    except TypeError:
        raise TypeError(f"{what}: expected host memory (a NumPy array or a buffer), not "
                        f"{type(obj).__name__}") from None


def _host_bytes(obj, size, what, writable):
    """The first ``size`` bytes of ``_host_flat(obj)``."""
    flat = _host_flat(obj, what)
    if writable and not flat.flags.writeable:
        raise ValueError(f"{what}: the host memory is read-only")
    size = int(size)
    if not 0 <= size <= flat.size:
        raise ValueError(f"{what}: {size} bytes do not fit in the {flat.size} bytes of host "
                         "memory")
    return flat[:size]


def host_memory_extents(obj):
    """(start, end) host addresses of a contiguous host buffer."""
    flat = _host_flat(obj, "host_memory_extents")
    start = flat.__array_interface__["data"][0]
    return start, start + flat.nbytes


def host_memory_size(obj):
    s, e = host_memory_extents(obj)
    return e - s


# ---- raw operations ------------------------------------------------------------

def _queue(view, stream, what, *keep):
    """The extension stream for ``stream``; a graph capturing on it keeps
    the memory the operation uses alive, as its replays use it."""
    s = lowlevel_stream(stream, view.device, what)
    if s is not None and s in _graphs._open:
        _graphs.keep_alive(s, view, *keep)
    return s


def device_memset(dst, val, size, stream=0):
    """Sets the first ``size`` bytes of ``dst`` (device memory) to the byte
    ``val``: cuMemsetD8 on a GPU (asynchronous on ``stream``), memset on the
    cpu device."""
    view = _device_bytes(dst, size, "device_memset")
    view._memset(val, _queue(view, stream, "device_memset"))


def host_to_device(dst, src, size, stream=0):
    """Copies ``size`` bytes from host buffer ``src`` to device memory ``dst``."""
    view = _device_bytes(dst, size, "host_to_device")
    host = _host_bytes(src, size, "host_to_device", False)
    view._copy_from(host, _queue(view, stream, "host_to_device", host))


def device_to_host(dst, src, size, stream=0):
    """Copies ``size`` bytes from device memory ``src`` into host buffer ``dst``."""
    view = _device_bytes(src, size, "device_to_host")
    host = _host_bytes(dst, size, "device_to_host", True)
    view._copy_to(host, _queue(view, stream, "device_to_host", host))


def device_to_device(dst, src, size, stream=0):
    """Copies ``size`` bytes between two device-memory objects."""
    d = _device_bytes(dst, size, "device_to_device")
    s = _device_bytes(src, size, "device_to_device")
    d._copy_from(s, _queue(d, stream, "device_to_device", s))
