"""Sharing device arrays with other processes: CUDA IPC, as numba.cuda has it.

``arr.get_ipc_handle()`` gives an ``IpcArrayHandle`` that pickles (so it can
travel to another process through multiprocessing); there, ``with handle as
darr:`` opens the memory as a DeviceNDArray (no copy) and closes it at the
end of the block. ``cuda.open_ipc_array(handle_bytes, shape, dtype)`` does
the same from the raw 64-byte handle. Underneath, ``IpcHandle`` holds the
driver's handle of the whole allocation (cuIpcGetMemHandle of the base
cuMemGetAddressRange finds) and the array's offset into it; the importer
opens it with cuIpcOpenMemHandle and closes it with cuIpcCloseMemHandle.

The CPU device cannot do this: its memory is private to the process, so
``get_ipc_handle`` raises NotImplementedError saying that IPC needs a CUDA
GPU. As with the driver, the exporting process must keep the array alive
while others use it, and a handle cannot be opened in the process that made
it.
"""

import contextlib
import ctypes

import numpy as np

from .. import _ember
from . import _devices, _emm

_HandleBytes = ctypes.c_byte * 64


def _as_handle(handle):
    """A 64-byte handle as numba's ctypes array (tuple() and bytes() work)."""
    if isinstance(handle, _HandleBytes):
        return handle
    try:
        raw = bytes(bytearray(b & 0xFF for b in handle)) if not isinstance(
            handle, (bytes, bytearray)) else bytes(handle)
    except TypeError:
        raise TypeError(f"an IPC handle is 64 bytes, not {type(handle).__name__}") from None
    if len(raw) != 64:
        raise ValueError(f"an IPC handle is 64 bytes, not {len(raw)}")
    return _HandleBytes.from_buffer_copy(raw)


class IpcHandle:
    """A CUDA IPC handle: ``handle`` (64 bytes of the allocation),
    ``size`` (bytes of the shared memory), ``offset`` (of that memory in the
    allocation), ``source_info`` (the exporting device). ``base`` keeps the
    exporter's memory alive and is None in other processes (after pickling)."""

    def __init__(self, base, handle, size, source_info=None, offset=0):
        self.base = base
        try:
            self.handle = _as_handle(handle)
        except (TypeError, ValueError):
            self.handle = handle  # a plugin's own kind of handle
        self.size = size
        self.source_info = source_info
        self.offset = offset
        self._opened = None  # (device, device address) while open

    def _device(self, context):
        return context.device if context is not None else _devices.get_current_device()

    def can_access_peer(self, context):
        """True when the context's device is the exporting one (ember opens
        handles only there)."""
        info = self.source_info
        dev = self._device(context)
        return info is None or (info.get("kind"), info.get("id")) == dev.key

    def open(self, context=None):
        """Maps the memory into this process; a MemoryPointer to it."""
        if self.base is not None:
            raise ValueError("opening IpcHandle from original process")
        if self._opened is not None:
            raise ValueError("IpcHandle is already opened")
        if not isinstance(self.handle, _HandleBytes):
            raise TypeError(f"this IpcHandle holds a {type(self.handle).__name__} (from a "
                            "memory manager plugin), not a CUDA IPC handle ember can open")
        dev = self._device(context)
        ptr = _ember.ipc_open(dev.kind, dev.id, bytes(self.handle))
        self._opened = (dev, ptr)
        ctx = context if context is not None else _devices.Context(dev)
        return _emm.MemoryPointer(ctx, ctypes.c_uint64(ptr + self.offset), self.size)

    open_direct = open

    def open_array(self, context, shape, dtype, strides=None, offset=0):
        """Opens the memory as a DeviceNDArray (C-contiguous unless
        ``strides``; element 0 at byte ``offset`` of the shared memory)."""
        from ._devicearray import DeviceNDArray, check_dtype
        from ._memory import _shape, _strides
        shape = _shape(shape, "open_ipc_array")
        dtype = check_dtype(np.dtype(dtype), "open_ipc_array")
        if isinstance(strides, (int, np.integer)) and len(shape) != 1:
            strides = None  # numba passes the itemsize for every array
        strides = _strides(strides, len(shape), "open_ipc_array") or _emm._dense(
            shape, dtype.itemsize, "C")
        need = offset + _emm._span(shape, strides, dtype.itemsize)
        if offset < 0 or need > self.size:
            raise ValueError(f"open_ipc_array: shape {shape} of {dtype} at offset {offset} "
                             f"needs {need} bytes; the handle shares {self.size}")
        mem = self.open(context)
        dev = self._opened[0]
        base = mem.device_pointer_value
        return _ember.from_device_pointer(DeviceNDArray, dev.kind, dev.id, base, self.size,
                                          shape, strides, dtype, self, offset=offset)

    def close(self):
        """Unmaps memory opened with open()."""
        if self._opened is None:
            raise ValueError("IpcHandle not opened")
        dev, ptr = self._opened
        self._opened = None
        _ember.ipc_close(dev.kind, dev.id, ptr)

    def __reduce__(self):
        handle = tuple(self.handle) if isinstance(self.handle, _HandleBytes) else self.handle
        return (IpcHandle._rebuild, (handle, self.size, self.source_info, self.offset))

    @classmethod
    def _rebuild(cls, handle, size, source_info, offset):
        return cls(None, handle, size, source_info, offset=offset)


class IpcArrayHandle:
    """numba's handle of a device array in another process: pickles; ``with
    handle as darr:`` (or ``open()`` / ``close()``) maps it there."""

    def __init__(self, ipc_handle, array_desc):
        self._ipc_handle = ipc_handle
        self._array_desc = array_desc

    def open(self):
        desc = self._array_desc
        return self._ipc_handle.open_array(None, desc["shape"], desc["dtype"],
                                           strides=desc["strides"], offset=desc.get("offset", 0))

    def close(self):
        self._ipc_handle.close()

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()
        return False


def context_get_ipc_handle(ctx, memory):
    """Context.get_ipc_handle: the plugin's get_ipc_handle when one is
    installed, else the driver's handle of the allocation."""
    mgr = _emm.manager_for(ctx.device)
    if mgr is not None:
        return mgr.get_ipc_handle(memory)
    return _emm.GetIpcHandleMixin.get_ipc_handle(_ContextOnly(ctx), memory)


class _ContextOnly:
    def __init__(self, ctx):
        self.context = ctx


def array_gpu_data(arr):
    """numba's ``DeviceNDArray.gpu_data``: a MemoryPointer over the bytes the
    array spans (the plugin's own MemoryPointer when it is the whole
    allocation)."""
    lo = hi = 0
    for n, s in zip(arr.shape, arr.strides):
        if n == 0:
            lo = hi = 0
            break
        if s < 0:
            lo += (n - 1) * s
        else:
            hi += (n - 1) * s
    hi = hi + arr.itemsize if arr.size else 0
    mem = _emm.plugin_memory_of(arr)
    start = arr.device_pointer + lo
    if mem is not None and start == _emm.pointer_value(mem.device_pointer) and \
            hi - lo == mem.size:
        return mem
    ctx = _devices.Context(arr.device)
    return _emm.MemoryPointer(ctx, ctypes.c_uint64(start), hi - lo,
                              owner=mem if mem is not None else arr)


def array_ipc_handle(arr):
    """DeviceNDArray.get_ipc_handle()."""
    mem = array_gpu_data(arr)
    ipch = _devices.Context(arr.device).get_ipc_handle(mem)
    start = _emm.pointer_value(mem.device_pointer)
    desc = {"shape": arr.shape, "strides": arr.strides, "dtype": arr.dtype,
            "offset": arr.device_pointer - start}
    return IpcArrayHandle(ipc_handle=ipch, array_desc=desc)


@contextlib.contextmanager
def open_ipc_array(handle, shape, dtype, strides=None, offset=0):
    """numba's ``cuda.open_ipc_array``: maps the memory of a 64-byte IPC
    handle (bytes, a tuple of ints or an IpcHandle's ``handle``) from another
    process as a DeviceNDArray for the ``with`` block. ``offset`` is the
    array's byte offset in the shared allocation."""
    dtype = np.dtype(dtype)
    dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    size = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if strides is not None:
        st = (strides,) if isinstance(strides, (int, np.integer)) else tuple(strides)
        size = _emm._span(dims, st, dtype.itemsize) if len(st) == len(dims) else size
    ipch = IpcHandle(None, _as_handle(handle), size + offset)
    darr = ipch.open_array(None, dims, dtype, strides=strides, offset=offset)
    try:
        yield darr
    finally:
        ipch.close()
