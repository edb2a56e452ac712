"""Devices and contexts: ``cuda.gpus``, ``select_device``, ``detect`` ...

A device is named by (kind, ordinal): ('cuda', 0) for the first GPU,
('cpu', 0) for the CPU device. The current device is per thread, as in
numba; it starts as ember's default device: the first GPU when a driver and
a device exist, else the CPU device (``EMBER_DEVICE=cpu`` forces the CPU).
On a machine without a GPU, code that selects device 0 keeps working: it
gets the CPU device.
"""

import collections
import contextlib
import os
import threading

from .. import _ember
from ..errors import CudaSupportError

MemoryInfo = collections.namedtuple("MemoryInfo", ["free", "total"])


class Device:
    """One device. Attribute names follow numba's Device (``id``, ``name``,
    ``compute_capability``, ``MULTIPROCESSOR_COUNT`` ...); ``kind`` is
    'cuda' or 'cpu'. Usable as a context manager that makes it current."""

    def __init__(self, kind, ordinal):
        info = _ember.device_info(kind, ordinal)
        self.kind = kind
        self.id = ordinal
        self.name = info["name"]
        # the CPU device stands in for a compute capability 9.0 GPU: its
        # limits, and the PTX inspect_asm shows (programs that test the
        # capability take the path it runs)
        self.compute_capability = (9, 0) if kind == "cpu" else \
            tuple(info["compute_capability"])
        self.total_memory = info["total_memory"]
        self.MULTIPROCESSOR_COUNT = info["multiprocessors"]
        self.MAX_THREADS_PER_BLOCK = info["max_threads_per_block"]
        self.WARP_SIZE = info["warp_size"]
        self.MAX_SHARED_MEMORY_PER_BLOCK = info["max_shared_memory_per_block"]
        # with the kernel opted in (ember does it at launch): a launch's
        # dynamic and the kernel's static shared memory together
        self.MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = info["max_shared_memory_per_block_optin"]
        self.pci_bus_id = info["pci_bus_id"]
        self.near_cpus = info["near_cpus"]
        self._saved = []

    @property
    def key(self):
        return (self.kind, self.id)

    def __eq__(self, other):
        return isinstance(other, Device) and other.key == self.key

    def __hash__(self):
        return hash(self.key)

    def __repr__(self):
        if self.kind == "cpu":
            return f"<ember cpu device {self.name!r} ({self.MULTIPROCESSOR_COUNT} workers)>"
        return f"<CUDA device {self.id} {self.name!r} cc {self.compute_capability[0]}.{self.compute_capability[1]}>"

    def __str__(self):
        return f"{self.kind}:{self.id}"

    # `with cuda.gpus[1]:` makes the device current for the block; after it
    # the thread's device is what it was, none chosen yet included.
    def __enter__(self):
        self._saved.append(_state.chosen())
        _state.set(self.key)
        return self

    def __exit__(self, *exc):
        saved = self._saved.pop()
        if saved is None:
            _state.forget()
        else:
            _state.set(saved)
        return False

    def synchronize(self):
        _ember.synchronize(self.kind, self.id)

    def reset(self):
        """Wait for the device's work (ember keeps one context per device)."""
        self.synchronize()


_devices = {}
_devices_lock = threading.Lock()


def _new_devices_lock():  # in a forked child: the parent's may be held by a thread not there
    global _devices_lock
    _devices_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_devices_lock)


def device(kind, ordinal):
    """The (cached) Device object for (kind, ordinal)."""
    key = (kind, ordinal)
    dev = _devices.get(key)
    if dev is None:
        with _devices_lock:
            dev = _devices.get(key)
            if dev is None:
                dev = _devices[key] = Device(kind, ordinal)
    return dev


class _CurrentDevice(threading.local):
    def __init__(self):
        self._key = None

    def key(self):
        if self._key is None:
            self.set(tuple(_ember.default_device()))
        return self._key

    def set(self, key):
        self._key = key
        _ember._note_current_device(*key)  # the C launch path checks it

    def chosen(self):
        """The key, or None while this thread has no device yet (numba:
        no context is active)."""
        return self._key

    def forget(self):
        """No device chosen: the next use takes the default again."""
        self._key = None
        _ember._note_current_device("cpu", -1)  # no device: the C path defers to Python


_state = _CurrentDevice()


@contextlib.contextmanager
def cpu_device_scope():
    """Makes the cpu device current on this thread for a block (ember's own
    helpers that compute on the host, e.g. seeding random states)."""
    saved = _state.key()
    _state.set(("cpu", 0))
    try:
        yield
    finally:
        _state.set(saved)


def get_current_device():
    """The device new arrays, streams and kernels go to on this thread."""
    return device(*_state.key())


class _GPUs:
    """``cuda.gpus``: the devices kernels can run on, indexable and
    iterable. With a GPU these are the CUDA devices; without one it holds
    the CPU device alone, as ``gpus[0]`` (as ``select_device(0)`` selects
    it), so numba code that walks ``cuda.gpus`` runs there too."""

    def _kind(self):
        return "cuda" if _ember.device_count("cuda") else "cpu"

    def __len__(self):
        return _ember.device_count("cuda") or 1

    def __getitem__(self, i):
        n = len(self)
        if isinstance(i, bool) or not isinstance(i, int):
            raise TypeError(f"cuda.gpus index must be an int, not {type(i).__name__}")
        if not -n <= i < n:
            if self._kind() == "cpu":
                raise IndexError(f"cuda.gpus[{i}]: there is no CUDA device, only the CPU "
                                 "device, cuda.gpus[0]")
            raise IndexError(f"cuda.gpus[{i}]: there are {n} CUDA device(s)")
        return device(self._kind(), i % n)

    def __iter__(self):
        kind = self._kind()
        return (device(kind, i) for i in range(len(self)))

    @property
    def current(self):
        """The thread's current device, or None while none has been chosen
        or used since the start or ``cuda.close()`` (numba: no active
        context)."""
        key = _state.chosen()
        return None if key is None else device(*key)

    def __repr__(self):
        if self._kind() == "cpu":
            return f"<no CUDA device; the CPU device: {list(self)}>"
        return f"<{len(self)} CUDA device(s): {list(self)}>"


gpus = _GPUs()


def is_available():
    """True when a CUDA driver and at least one CUDA device are present."""
    return _ember.device_count("cuda") > 0


def list_devices():
    return list(gpus)


def select_device(device_id):
    """Make CUDA device ``device_id`` current on this thread and return it.

    Without any GPU, device 0 is the CPU device, so numba.cuda programs that
    select device 0 run unchanged. ``select_device('cpu')`` selects the CPU
    device explicitly."""
    if device_id == "cpu":
        _state.set(("cpu", 0))
        return get_current_device()
    if isinstance(device_id, bool) or not isinstance(device_id, int):
        raise TypeError(f"select_device: device_id must be an int or 'cpu', not {device_id!r}")
    n = _ember.device_count("cuda")
    if n == 0:
        if device_id == 0:
            _state.set(("cpu", 0))
            return get_current_device()
        raise CudaSupportError(
            f"select_device({device_id}): no CUDA device ({_ember.kind_unavailable_reason('cuda')}); "
            "only device 0, the CPU device, can be selected")
    if not 0 <= device_id < n:
        raise ValueError(f"select_device({device_id}): there are {n} CUDA device(s), ids 0..{n - 1}")
    _state.set(("cuda", device_id))
    return get_current_device()


def close():
    """Wait for the thread's device's work and leave the thread with no
    device chosen (numba destroys its contexts here; ember keeps one per
    device for the process, so arrays stay valid). The next use takes the
    default device, as a fresh thread does. An EMM plugin's instances are
    reset and dropped, as numba's contexts are: the next allocation makes a
    new one."""
    key = _state.chosen()
    if key is not None:
        device(*key).synchronize()
        _state.forget()
    from . import _emm
    _emm.close_managers()


class MemoryPool:
    """The caching allocator of one device, for device memory (``memkind``
    'device') or pinned host memory ('pinned'), with CuPy's MemoryPool
    methods: ``used_bytes()``, ``free_bytes()``, ``total_bytes()``,
    ``n_free_blocks()``, ``free_all_blocks()``; ``stats()`` gives every
    counter (driver allocations, hits, misses, out-of-memory recoveries).

    Freed arrays go back to the pool, not to the driver; a later allocation
    of the same size class takes them again without a ``cuMemAlloc``. On
    out-of-memory the pool frees its cache, runs ``gc.collect()`` and retries
    once. ``EMBER_CUDA_POOL=0`` turns caching off. The CPU device does not
    cache (its memory is the host allocator's) but counts the same."""

    def __init__(self, dev, memkind="device"):
        if memkind not in ("device", "pinned", "mapped", "managed"):
            raise ValueError(f"MemoryPool: memkind must be 'device', 'pinned', 'mapped' or "
                             f"'managed', "
                             f"not {memkind!r}")
        self.device = dev
        self.memkind = memkind

    def stats(self):
        """Every counter, as a dict."""
        return _ember.pool_stats(self.device.kind, self.device.id, self.memkind)

    def used_bytes(self):
        """Bytes held by live arrays (rounded up to their size classes)."""
        return self.stats()["bytes_in_use"]

    def free_bytes(self):
        """Bytes of freed blocks the pool keeps for reuse."""
        return self.stats()["bytes_cached"]

    def total_bytes(self):
        """used_bytes() + free_bytes(): what the pool holds from the driver."""
        s = self.stats()
        return s["bytes_in_use"] + s["bytes_cached"]

    def n_free_blocks(self):
        return self.stats()["blocks_cached"]

    def free_all_blocks(self):
        """Give every cached block of the device back to the driver (device,
        pinned and mapped memory alike; arrays in use stay)."""
        _ember.pool_trim(self.device.kind, self.device.id)

    def __repr__(self):
        return (f"<MemoryPool {self.memkind} of {self.device}: {self.used_bytes()} bytes used, "
                f"{self.free_bytes()} cached>")


class _Deallocations:
    """numba's queue of pending frees, for code that calls
    ``ctx.deallocations.clear()`` to get memory back: ember frees at once
    into its pool, so the queue is always empty and ``clear()`` gives the
    pool's cached blocks back to the driver."""

    def __init__(self, dev):
        self.device = dev

    def clear(self):
        _ember.pool_trim(self.device.kind, self.device.id)

    def __len__(self):
        return 0


class Context:
    """The per-device context (numba's Context subset)."""

    def __init__(self, dev):
        self.device = dev

    def get_memory_info(self):
        """(free, total) bytes of the device's memory (the EMM plugin's
        answer when one is installed)."""
        mgr = self.memory_manager
        if mgr is not None:
            return mgr.get_memory_info()
        return MemoryInfo(*_ember.memory_info(self.device.kind, self.device.id))

    @property
    def memory_manager(self):
        """The EMM plugin instance serving this device, or None when ember's
        own pool does (cuda.set_memory_manager)."""
        from . import _emm
        return _emm.manager_for(self.device)

    def memalloc(self, size):
        """``size`` bytes of device memory as a MemoryPointer (the plugin's
        memalloc when one is installed)."""
        from . import _emm
        return _emm.context_memalloc(self, size)

    def memhostalloc(self, size, mapped=False, portable=False, wc=False):
        """``size`` bytes of pinned (``mapped``: also mapped) host memory, as
        PinnedMemory / MappedMemory (the plugin's when one is installed)."""
        from . import _emm
        return _emm.host_manager(self).memhostalloc(size, mapped, portable, wc)

    def mempin(self, owner, pointer, size, mapped=False):
        """Page-locks host memory ``owner`` owns until the result is gone."""
        from . import _emm
        return _emm.host_manager(self).mempin(owner, pointer, size, mapped)

    def memallocmanaged(self, size, attach_global=True):
        """``size`` bytes of managed memory as ManagedMemory (ember's own:
        numba's plugins do not allocate managed memory); attached to the
        host at first unless ``attach_global`` (CU_MEM_ATTACH_HOST)."""
        from . import _emm
        return _emm.own_manager(self).memallocmanaged(size, attach_global)

    def create_stream(self):
        """A new stream on this context's device."""
        from ._streams import Stream
        return Stream(_ember.Stream(self.device.kind, self.device.id), self.device)

    def create_event(self, timing=True):
        """A new event on this context's device."""
        from ._streams import event
        with self.device:
            return event(timing)

    def get_ipc_handle(self, memory):
        """An IpcHandle for a MemoryPointer (e.g. ``array.gpu_data``)."""
        from . import _ipc
        return _ipc.context_get_ipc_handle(self, memory)

    @property
    def memory_pool(self):
        """The device memory pool (see MemoryPool)."""
        return MemoryPool(self.device, "device")

    @property
    def deallocations(self):
        """numba's pending-deallocation queue (see _Deallocations)."""
        return _Deallocations(self.device)

    @property
    def pinned_memory_pool(self):
        """The pool of pinned host memory used with this device."""
        return MemoryPool(self.device, "pinned")

    def synchronize(self):
        self.device.synchronize()

    def reset(self):
        """Waits for the device; an EMM plugin's reset() runs too."""
        self.device.reset()
        from . import _emm
        mgr = _emm.manager_for(self.device)
        if mgr is not None:
            mgr.reset()

    def __repr__(self):
        return f"<Context of {self.device!r}>"


def current_context(devnum=None):
    if devnum is None:
        return Context(get_current_device())
    return Context(select_device(devnum))


def require_context(fn):
    """numba's decorator: `fn` runs with the runtime started and a current
    device (ember's contexts are the devices' primary ones, made on use)."""
    import functools

    @functools.wraps(fn)
    def with_context(*args, **kwargs):
        get_current_device()
        return fn(*args, **kwargs)
    return with_context


def get_default_memory_pool():
    """The current device's memory pool (CuPy's name)."""
    return MemoryPool(get_current_device(), "device")


def get_default_pinned_memory_pool():
    """The current device's pinned host memory pool (CuPy's name)."""
    return MemoryPool(get_current_device(), "pinned")


def synchronize():
    """Wait until all work queued on the current device has finished."""
    get_current_device().synchronize()


def detect():
    """Print the devices ember found; return True when a CUDA device is usable.

    Without a GPU it says why (no driver, where it looked) and describes the
    CPU device that runs kernels instead."""
    n = _ember.device_count("cuda")
    if n:
        print(f"Found {n} CUDA devices")
        for dev in gpus:
            cc = dev.compute_capability
            print(f"id {dev.id:<4} {dev.name!r:<40} [SUPPORTED]")
            print(f"{'Compute Capability':>40}: {cc[0]}.{cc[1]}")
            print(f"{'PCI Bus ID':>40}: {dev.pci_bus_id}")
            print(f"{'Multiprocessors':>40}: {dev.MULTIPROCESSOR_COUNT}")
            print(f"{'Memory':>40}: {dev.total_memory / 2**30:.1f} GiB")
            print(f"{'CPUs near it':>40}: {dev.near_cpus or 'unknown'}")
        print("Summary:")
        print(f"\t{n}/{n} devices are supported")
    else:
        print(f"No CUDA devices: {_ember.kind_unavailable_reason('cuda')}")
    from .._cpu import cpu
    print(f"CPU device: {cpu.model}: {cpu.packages} package(s), {cpu.cores} cores, "
          f"{cpu.pus} threads, {cpu.numa_nodes} NUMA node(s); {cpu.workers} workers")
    cur = get_current_device()
    print(f"Kernels and arrays go to: {cur.kind}:{cur.id} ({cur.name})")
    return n > 0
