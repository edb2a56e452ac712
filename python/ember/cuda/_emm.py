"""External memory management: numba's EMM plugin interface.

A plugin is a class (subclass of ``BaseCUDAMemoryManager``, usually of
``HostOnlyCUDAMemoryManager``) installed with ``cuda.set_memory_manager`` or
named by the environment variable ``EMBER_CUDA_MEMORY_MANAGER`` (or numba's
``NUMBA_CUDA_MEMORY_MANAGER``): a module whose ``_numba_memory_manager`` is
the class, as RMM's ``rmm.allocators.numba`` and CuPy-based plugins provide.
While one is installed, every device array ember makes from Python
(``device_array``, ``to_device``, the copies of host arrays passed to
kernels, ufunc and reduction outputs ...) takes its memory from the plugin's
``memalloc(size)``: the returned ``MemoryPointer``'s ``device_pointer``
becomes the array's data, ember's own caching pool is not used for it, and
the memory goes back through the plugin's finalizer once the last array
(or view) over it is gone. ``pinned_array`` / ``mapped_array`` call the
plugin's ``memhostalloc``. One plugin instance serves each device; it is
made (``plugin(context=...)``, then ``initialize()``) when that device first
needs memory, and ``cuda.close()`` resets and drops it.

The classes here have numba's names and constructor signatures
(``MemoryPointer``, ``AutoFreePointer``, ``MappedMemory``,
``PinnedMemory``, ``ManagedMemory``, ``MemoryInfo``), so plugins written for
numba run unchanged. A pointer may be an int, a ctypes integer/void pointer
or any object with ``__int__`` (cuda-python's ``CUdeviceptr``). The
host-memory ones (``MappedMemory``, ``PinnedMemory``, ``ManagedMemory``)
export their bytes through the buffer protocol, as numba's do
(``np.ndarray(n, buffer=ctx.memhostalloc(n, mapped=True))``).
"""

import abc
import contextlib
import ctypes
import importlib
import os
import threading
import weakref

import numpy as np

from .. import _ember
from ._devices import MemoryInfo  # noqa: F401  (numba's cuda.MemoryInfo)

_SUPPORTED_EMM_INTERFACE_VERSION = 1

_memory_manager = None       # the plugin class; None: ember's own pool
_env_checked = False         # the environment variable is read once
_env_error = None            # why the plugin it names cannot be used
_managers = {}               # device key -> plugin instance
_lock = threading.RLock()
_allocations = weakref.WeakValueDictionary()  # buffer_id -> _Allocation


def pointer_value(p):
    """The address a plugin's pointer object stands for, as an int."""
    if p is None:
        return 0
    if isinstance(p, int):
        return p
    if isinstance(p, (ctypes.c_void_p, ctypes._SimpleCData)):
        return p.value or 0
    try:
        return int(p)
    except TypeError:
        raise TypeError(f"a device pointer must be an int, a ctypes pointer or have __int__, "
                        f"not {type(p).__name__}") from None


# ---- memory objects (numba.cuda.cudadrv.driver's) --------------------------

class MemoryPointer:
    """Device memory with an optional finalizer, called when this object is
    garbage collected (or at ``free()``). ``device_pointer`` is the address
    as the plugin gave it; ``device_pointer_value`` is it as an int."""

    __cuda_memory__ = True

    def __init__(self, context, pointer, size, owner=None, finalizer=None):
        self.context = context
        self.device_pointer = pointer
        self.size = size
        self._cuda_memsize_ = size
        self.is_managed = finalizer is not None
        self.refct = 1
        self.handle = self.device_pointer
        self._owner = owner
        if finalizer is not None:
            self._finalizer = weakref.finalize(self, finalizer)

    @property
    def owner(self):
        return self if self._owner is None else self._owner

    def own(self):
        return OwnedPointer(weakref.proxy(self))

    def free(self):
        """Runs the finalizer now (memory a plugin manages)."""
        if self.is_managed:
            if not self._finalizer.alive:
                raise RuntimeError("Freeing dead memory")
            self._finalizer()

    def view(self, start, stop=None):
        """A MemoryPointer over bytes [start, stop) of this one (sharing its owner)."""
        size = self.size - start if stop is None else stop - start
        if size < 0:
            raise RuntimeError("size cannot be negative")
        base = self.device_pointer_value
        if not base:
            if size:
                raise RuntimeError("non-empty slice into empty slice")
            return self
        return MemoryPointer(self.context, ctypes.c_uint64(base + start), size,
                             owner=self.owner)

    @property
    def device_ctypes_pointer(self):
        return self.device_pointer

    @property
    def device_pointer_value(self):
        return pointer_value(self.device_pointer) or None


class AutoFreePointer(MemoryPointer):
    """A MemoryPointer whose memory is freed when the object is gone (numba's
    reference-counted variant; the count starts at zero)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.refct -= 1


class OwnedPointer:
    """A reference to a MemoryPointer that frees it when the count of such
    references falls to zero; other attributes are the pointer's."""

    def __init__(self, memptr, view=None):
        self._mem = memptr
        self._view = memptr if view is None else view
        mem = self._mem

        def deref():
            try:
                mem.refct -= 1
                if mem.refct == 0:
                    mem.free()
            except ReferenceError:
                pass

        self._mem.refct += 1
        weakref.finalize(self, deref)

    def __getattr__(self, name):
        return getattr(self._view, name)


class MappedMemory(AutoFreePointer, _ember.HostMemory):
    """Host memory also mapped into the device's address space.
    ``host_pointer`` is the host address; the device address is
    ``device_pointer`` — the same address (CUDA's unified addressing, and the
    CPU device) unless the maker passes ``device_pointer=``."""

    __cuda_memory__ = True

    def __init__(self, context, pointer, size, owner=None, finalizer=None, device_pointer=None):
        self.owned = owner
        self.host_pointer = pointer
        self._bufptr_ = pointer_value(pointer)
        devptr = ctypes.c_uint64(pointer_value(device_pointer if device_pointer is not None
                                               else pointer))
        super().__init__(context, devptr, size, finalizer=finalizer)
        self.handle = self.host_pointer
        self._buflen_ = size

    def own(self):
        return self


class PinnedMemory(_ember.HostMemory):
    """Page-locked host memory (``host_pointer``, ``size``); ``owner`` is
    kept alive with it, the finalizer runs when it is gone."""

    def __init__(self, context, pointer, size, owner=None, finalizer=None):
        self.context = context
        self.owned = owner
        self.size = size
        self.host_pointer = pointer
        self.is_managed = finalizer is not None
        self.handle = self.host_pointer
        self._buflen_ = size
        self._bufptr_ = pointer_value(pointer)
        if finalizer is not None:
            weakref.finalize(self, finalizer)

    def own(self):
        return self


class ManagedMemory(AutoFreePointer, _ember.HostMemory):
    """Managed (unified) memory: one address on the host and the device."""

    __cuda_memory__ = True

    def __init__(self, context, pointer, size, owner=None, finalizer=None):
        self.owned = owner
        super().__init__(context, pointer, size, finalizer=finalizer)
        self._buflen_ = size
        self._bufptr_ = pointer_value(pointer)

    def own(self):
        return self


# ---- the plugin interface -------------------------------------------------

class BaseCUDAMemoryManager(metaclass=abc.ABCMeta):
    """Abstract base class of External Memory Management (EMM) plugins.
    ember makes one instance per device with ``context=`` that device's
    Context."""

    def __init__(self, *args, **kwargs):
        if "context" not in kwargs:
            raise RuntimeError("Memory manager requires a context")
        self.context = kwargs.pop("context")

    @abc.abstractmethod
    def memalloc(self, size):
        """``size`` bytes of device memory, as a MemoryPointer that owns them."""

    @abc.abstractmethod
    def memhostalloc(self, size, mapped, portable, wc):
        """``size`` bytes of pinned host memory (MappedMemory when
        ``mapped``, else PinnedMemory)."""

    @abc.abstractmethod
    def mempin(self, owner, pointer, size, mapped):
        """Page-locks host memory ``owner`` owns (MappedMemory or PinnedMemory)."""

    @abc.abstractmethod
    def initialize(self):
        """Called once before the instance's first allocation."""

    @abc.abstractmethod
    def get_ipc_handle(self, memory):
        """An IpcHandle for the MemoryPointer ``memory``."""

    @abc.abstractmethod
    def get_memory_info(self):
        """MemoryInfo(free, total) in bytes (may raise NotImplementedError)."""

    @abc.abstractmethod
    def reset(self):
        """Frees everything this instance allocated."""

    @abc.abstractmethod
    def defer_cleanup(self):
        """A context manager that postpones frees while it is active."""

    @property
    @abc.abstractmethod
    def interface_version(self):
        """1 for this version of the interface."""


class _PendingDeallocs:
    """numba's queue of postponed host-memory frees, as the plugins see it.
    ember frees host memory when its last user is gone, so the queue stays
    empty; ``disable()`` is the context manager defer_cleanup uses."""

    def __init__(self):
        self._disabled = 0

    def clear(self):
        pass

    @contextlib.contextmanager
    def disable(self):
        self._disabled += 1
        try:
            yield
        finally:
            self._disabled -= 1

    @property
    def is_disabled(self):
        return self._disabled > 0

    def __len__(self):
        return 0


class HostOnlyCUDAMemoryManager(BaseCUDAMemoryManager):
    """Base class of plugins that allocate only device memory: pinned,
    mapped and managed host memory, and page-locking, stay ember's own. A
    subclass that overrides ``reset`` or ``defer_cleanup`` calls
    ``super()``'s."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.allocations = {}
        self.deallocations = _PendingDeallocs()

    def _device(self):
        dev = getattr(self.context, "device", None)
        if dev is None:
            from ._devices import get_current_device
            dev = get_current_device()
        return dev

    def memhostalloc(self, size, mapped=False, portable=False, wc=False):
        """ember's own pinned (or mapped) host memory."""
        dev = self._device()
        arr, devptr = _ember.host_array(dev.kind, dev.id, (int(size),), np.uint8, "C",
                                        "mapped" if mapped else "pinned")
        host = ctypes.c_void_p(arr.__array_interface__["data"][0])
        if mapped:
            return MappedMemory(self.context, host, size, owner=arr, device_pointer=devptr)
        return PinnedMemory(self.context, host, size, owner=arr)

    def mempin(self, owner, pointer, size, mapped=False):
        """Page-locks [pointer, pointer + size) until the returned object is gone."""
        dev = self._device()
        addr = pointer_value(pointer)
        devptr = _ember.host_register(dev.kind, dev.id, addr, int(size), mapped=mapped)

        def unpin(kind=dev.kind, ordinal=dev.id):
            _ember.host_unregister(kind, ordinal, addr)

        if mapped:
            return MappedMemory(self.context, ctypes.c_void_p(addr), size, owner=owner,
                                finalizer=unpin, device_pointer=devptr)
        return PinnedMemory(self.context, ctypes.c_void_p(addr), size, owner=owner,
                            finalizer=unpin)

    def memallocmanaged(self, size, attach_global=True):
        dev = self._device()
        arr, devptr = _ember.host_array(dev.kind, dev.id, (int(size),), np.uint8, "C",
                                        "managed" if attach_global else "managed_host")
        return ManagedMemory(self.context, ctypes.c_uint64(devptr), size, owner=arr)

    def reset(self):
        self.allocations.clear()
        self.deallocations.clear()

    @contextlib.contextmanager
    def defer_cleanup(self):
        with self.deallocations.disable():
            yield


class GetIpcHandleMixin:
    """The default ``get_ipc_handle``: the driver's handle of the allocation
    the memory lies in (cuMemGetAddressRange + cuIpcGetMemHandle), with the
    memory's offset into it."""

    def get_ipc_handle(self, memory):
        from ._ipc import IpcHandle
        dev = getattr(self.context, "device", None)
        if dev is None:
            from ._devices import get_current_device
            dev = get_current_device()
        ptr = pointer_value(memory.device_pointer)
        handle, base, _ = _ember.ipc_get_handle(dev.kind, dev.id, ptr)
        return IpcHandle(memory, handle, memory.size, _source_info(dev), offset=ptr - base)


def _source_info(dev):
    """numba's device identity (the handle's 'source_info')."""
    return {"kind": dev.kind, "id": dev.id, "pci_bus_id": dev.pci_bus_id}


# ---- installing a plugin -----------------------------------------------------

def set_memory_manager(mm_plugin):
    """Makes ember allocate device memory through the EMM plugin class
    ``mm_plugin`` (RuntimeError when it implements another interface
    version than 1). Devices get their instance when they next allocate."""
    global _memory_manager, _env_checked
    if not isinstance(mm_plugin, type) or not issubclass(mm_plugin, BaseCUDAMemoryManager):
        raise TypeError(f"set_memory_manager: expected a subclass of BaseCUDAMemoryManager, "
                        f"not {mm_plugin!r}")
    dummy = mm_plugin(context=None)
    iv = dummy.interface_version
    if iv != _SUPPORTED_EMM_INTERFACE_VERSION:
        raise RuntimeError(f"EMM Plugin interface has version {iv} - version "
                           f"{_SUPPORTED_EMM_INTERFACE_VERSION} required")
    global _env_error
    with _lock:
        _memory_manager = mm_plugin
        _env_checked = True
        _env_error = None
        _managers.clear()


def _check_environment():
    """Installs the plugin EMBER_CUDA_MEMORY_MANAGER (or
    NUMBA_CUDA_MEMORY_MANAGER) names, once; 'default' or unset: none. A
    module that cannot be used makes every allocation raise, as in numba."""
    global _env_checked, _env_error
    if _env_error:
        raise RuntimeError(_env_error)
    if _env_checked:
        return
    _env_checked = True
    for var in ("EMBER_CUDA_MEMORY_MANAGER", "NUMBA_CUDA_MEMORY_MANAGER"):
        name = os.environ.get(var, "").strip()
        if name:
            break
    if not name or name == "default":
        return
    try:
        module = importlib.import_module(name)
        set_memory_manager(module._numba_memory_manager)
    except Exception as exc:
        _env_error = (f"Failed to use memory manager from {name} ({var}): "
                      f"{type(exc).__name__}: {exc}")
        raise RuntimeError(_env_error) from None


def manager_for(dev, create=True):
    """The plugin instance serving ``dev`` (made and initialised on first
    use), or None when no plugin is installed."""
    with _lock:
        _check_environment()
        if _memory_manager is None:
            return None
        mgr = _managers.get(dev.key)
        if mgr is None and create:
            from ._devices import Context
            mgr = _memory_manager(context=Context(dev))
            mgr.initialize()
            _managers[dev.key] = mgr
        return mgr


def close_managers():
    """cuda.close(): each instance is reset and dropped (numba destroys its
    contexts); the next allocation makes a new one."""
    with _lock:
        mgrs = list(_managers.values())
        _managers.clear()
    for mgr in mgrs:
        mgr.reset()


def installed():
    if _memory_manager is None and _env_checked and _env_error is None:
        return False
    with _lock:
        _check_environment()
        return _memory_manager is not None


# ---- device arrays over a plugin's memory ------------------------------------

class _Allocation:
    """What an array's buffer holds while it uses a plugin's memory: the
    MemoryPointer (its finalizer runs once this object is gone)."""

    __slots__ = ("memory", "pointer", "size", "__weakref__")

    def __init__(self, memory, pointer, size):
        self.memory = memory
        self.pointer = pointer
        self.size = size


def _span(shape, strides, itemsize):
    if any(d == 0 for d in shape):
        return 0
    return itemsize + sum((d - 1) * s for d, s in zip(shape, strides))


def _dense(shape, itemsize, order):
    strides = [0] * len(shape)
    step = itemsize
    for i in (reversed(range(len(shape))) if order == "C" else range(len(shape))):
        strides[i] = step
        step *= max(shape[i], 1)
    return tuple(strides)


def plugin_device_array(cls, dev, shape, dtype, order, strides):
    """A ``cls`` array over memory from ``dev``'s plugin, or None when no
    plugin is installed (or the array is empty: no memory to ask for)."""
    if _memory_manager is None and _env_checked and _env_error is None:
        return None  # the common case, without the lock
    mgr = manager_for(dev)
    if mgr is None:
        return None
    if strides is None:
        strides = _dense(shape, dtype.itemsize, order)
    nbytes = _span(shape, strides, dtype.itemsize)
    if nbytes == 0:
        return None
    mem = mgr.memalloc(nbytes)
    try:
        ptr = pointer_value(mem.device_pointer)
    except AttributeError:
        raise TypeError(f"the memory manager's memalloc returned {type(mem).__name__}, "
                        "not a MemoryPointer (no device_pointer)") from None
    if not ptr:
        raise RuntimeError(f"the memory manager's memalloc({nbytes}) returned a NULL "
                           "device pointer")
    alloc = _Allocation(mem, ptr, nbytes)
    arr = _ember.from_device_pointer(cls, dev.kind, dev.id, ptr, nbytes, shape, strides,
                                     dtype, alloc)
    _allocations[arr.buffer_id] = alloc
    return arr


def plugin_memory_of(arr):
    """The plugin MemoryPointer an array's memory came from, or None."""
    alloc = _allocations.get(arr.buffer_id)
    if alloc is None or arr.device_pointer - arr.offset != alloc.pointer:
        return None
    return alloc.memory


def plugin_host_array(dev, nbytes, mapped, portable, wc):
    """(uint8 NumPy array, device address) over the plugin's memhostalloc,
    or None when no plugin is installed."""
    mgr = manager_for(dev)
    if mgr is None or nbytes == 0:
        return None
    mem = mgr.memhostalloc(nbytes, mapped, portable, wc)
    host = pointer_value(getattr(mem, "host_pointer", None))
    if not host:
        raise RuntimeError(f"the memory manager's memhostalloc({nbytes}) returned no host "
                           "pointer")
    devptr = pointer_value(mem.device_pointer) if mapped else host
    return np.asarray(_HostMemory(mem, host, nbytes)), devptr


class _HostMemory:
    """A NumPy-visible view of plugin host memory that keeps it alive."""

    def __init__(self, mem, host, nbytes):
        self.mem = mem
        self.__array_interface__ = {"data": (host, False), "shape": (nbytes,),
                                    "typestr": "|u1", "version": 3}


def context_memalloc(ctx, size):
    """Context.memalloc: the plugin's memalloc, or ember's own memory held by
    the returned MemoryPointer (a uint8 device array kept as its owner)."""
    mgr = manager_for(ctx.device)
    if mgr is not None:
        return mgr.memalloc(size)
    size = int(size)
    if size < 0:
        raise ValueError(f"memalloc: size must be >= 0, not {size}")
    dev = ctx.device
    arr = _ember.empty(_ember.Array, dev.kind, dev.id, (size,), np.dtype(np.uint8))
    return MemoryPointer(ctx, ctypes.c_uint64(arr.device_pointer), size, owner=arr)


class _OwnHostMemory(HostOnlyCUDAMemoryManager):
    """ember's own pinned, mapped and managed memory behind Context's
    memhostalloc / mempin / memallocmanaged when no plugin is installed."""

    def initialize(self):
        pass

    def memalloc(self, size):
        return context_memalloc(self.context, size)

    def get_memory_info(self):
        return MemoryInfo(*_ember.memory_info(self.context.device.kind, self.context.device.id))

    def get_ipc_handle(self, memory):
        return GetIpcHandleMixin.get_ipc_handle(self, memory)

    @property
    def interface_version(self):
        return _SUPPORTED_EMM_INTERFACE_VERSION


def own_manager(ctx):
    return _OwnHostMemory(context=ctx)


def host_manager(ctx):
    """The plugin serving the context's device, else ember's own."""
    return manager_for(ctx.device) or own_manager(ctx)
