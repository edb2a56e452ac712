"""Creating device, pinned and mapped arrays (numba.cuda's memory functions).

Arguments are validated here, before C sees them, so that a wrong shape or
dtype is a TypeError/ValueError that names the argument and says what was
expected.
"""

import contextlib
import operator

import numpy as np

from .. import _ember
from . import _emm
from ._devicearray import DeviceNDArray, _host_array, check_dtype
from ._devices import get_current_device
from ._streams import lowlevel_stream


def _shape(shape, what):
    """``shape`` as a tuple of non-negative ints (an int means 1-D)."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"{what}: shape must be an int or a tuple of ints, not {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"{what}: shape must not have negative dimensions, got {dims}")
    if len(dims) > 32:
        raise ValueError(f"{what}: at most 32 dimensions, got {len(dims)}")
    return dims


def _dtype(dtype, what):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{what}: dtype {dtype!r} is not a NumPy dtype") from None
    return check_dtype(dt, what)


def _order(order, what):
    if order not in ("C", "F"):
        raise ValueError(f"{what}: order must be 'C' or 'F', not {order!r}")
    return order


def _strides(strides, ndim, what):
    if strides is None:
        return None
    if isinstance(strides, (int, np.integer)):
        strides = (strides,)
    try:
        strides = tuple(operator.index(s) for s in strides)
    except TypeError:
        raise TypeError(f"{what}: strides must be a tuple of ints, not {strides!r}") from None
    if len(strides) != ndim:
        raise ValueError(f"{what}: {len(strides)} strides for a {ndim}-d shape")
    if any(s < 0 for s in strides):
        raise ValueError(f"{what}: strides must be non-negative, got {strides}")
    return strides


def device_array(shape, dtype=np.float64, strides=None, order="C", stream=0):
    """An uninitialised array on the current device."""
    what = "device_array"
    shape = _shape(shape, what)
    dtype = _dtype(dtype, what)
    order = _order(order, what)
    strides = _strides(strides, len(shape), what)
    dev = get_current_device()
    lowlevel_stream(stream, dev, what)
    arr = _device_empty(dev, shape, dtype, order, strides)
    if stream:  # numba: the array keeps the stream it was made on (arr.stream)
        arr.stream = stream
    return arr


def _device_empty(dev, shape, dtype, order, strides):
    """A new DeviceNDArray: from the EMM plugin's memalloc when one is
    installed (cuda/_emm.py), else from ember's pool."""
    arr = _emm.plugin_device_array(DeviceNDArray, dev, shape, dtype, order, strides)
    if arr is None:
        arr = _ember.empty(DeviceNDArray, dev.kind, dev.id, shape, dtype, order, strides)
    return arr


def device_array_like(ary, stream=0):
    """An uninitialised device array of ``ary``'s shape and dtype (F order if ``ary`` is)."""
    if not hasattr(ary, "shape") or not hasattr(ary, "dtype"):
        ary = _host_array(ary, "device_array_like")
    order = "F" if _is_f_only(ary) else "C"
    return device_array(ary.shape, ary.dtype, strides=_dense_strides_like(ary), order=order,
                        stream=stream)


def _dense_strides_like(ary):
    """Strides of a new dense array that keeps the memory order of ``ary``'s
    axes, as np.empty_like(order='K') gives (NumPy's PyArray_NewLikeArray:
    axes sorted by decreasing |stride|, ties in C order); None when ``ary`` is
    contiguous or 1-D, where the order argument says it all."""
    if ary.ndim <= 1 or _is_c(ary) or _is_f(ary):
        return None
    perm = sorted(range(ary.ndim), key=lambda i: -abs(ary.strides[i]))  # stable
    strides, step = [0] * ary.ndim, ary.dtype.itemsize
    for i in reversed(perm):
        strides[i] = step
        step *= ary.shape[i]
    return tuple(strides)


def _is_c(ary):
    if isinstance(ary, DeviceNDArray):
        return ary.is_c_contiguous()
    return bool(ary.flags["C_CONTIGUOUS"])


def _is_f(ary):
    if isinstance(ary, DeviceNDArray):
        return ary.is_f_contiguous()
    return bool(ary.flags["F_CONTIGUOUS"])


def _is_f_only(ary):
    if isinstance(ary, DeviceNDArray):
        return ary.is_f_contiguous() and not ary.is_c_contiguous()
    flags = getattr(ary, "flags", None)
    return bool(flags is not None and flags["F_CONTIGUOUS"] and not flags["C_CONTIGUOUS"])


def to_device(obj, stream=0, copy=True, to=None):
    """Copy a host array-like to the current device and return the DeviceNDArray.

    With ``to`` (a device array), copy into it instead. A device array is
    returned as it is. A non-contiguous host array becomes a C-contiguous
    device array; an F-contiguous one stays F-contiguous."""
    if to is not None:
        if not isinstance(to, DeviceNDArray):
            raise TypeError(f"to_device: 'to' must be a device array, not {type(to).__name__}")
        to.copy_to_device(obj, stream=stream)
        return to
    if isinstance(obj, DeviceNDArray):
        return obj
    if isinstance(obj, np.void) and obj.dtype.fields is not None:
        from ._devicerecord import DeviceRecord
        rec = DeviceRecord(obj.dtype, stream=stream)  # numba: a record stays a record
        if copy:
            rec.copy_to_device(obj, stream=stream)
        return rec
    host = _host_array(obj, "to_device")
    dev = get_current_device()
    s = lowlevel_stream(stream, dev, "to_device")
    order = "F" if _is_f_only(host) else "C"
    darr = _device_empty(dev, host.shape, host.dtype, order, None)
    if copy:
        darr._copy_from(host, s)
    if stream:
        darr.stream = stream
    return darr


def _host_alloc(shape, dtype, strides, order, memkind, what, portable=False, wc=False):
    shape = _shape(shape, what)
    dtype = _dtype(dtype, what)
    order = _order(order, what)
    strides = _strides(strides, len(shape), what)
    dev = get_current_device()
    if memkind in ("pinned", "mapped") and _emm.installed():
        got = _plugin_host_alloc(dev, shape, dtype, strides, order, memkind, portable, wc)
        if got is not None:
            return got
    if strides is None:
        arr, devptr = _ember.host_array(dev.kind, dev.id, shape, dtype, order, memkind)
        return arr, devptr
    # explicit strides: allocate the bytes they span and view them
    nbytes = dtype.itemsize + sum((d - 1) * s for d, s in zip(shape, strides)) if all(shape) else 0
    raw, devptr = _ember.host_array(dev.kind, dev.id, (max(nbytes, 0),), np.uint8, "C", memkind)
    return np.ndarray(shape, dtype, buffer=raw, strides=strides), devptr


def _plugin_host_alloc(dev, shape, dtype, strides, order, memkind, portable, wc):
    """(array, device address) over the EMM plugin's memhostalloc, or None
    for an empty array."""
    if strides is None:
        strides = _emm._dense(shape, dtype.itemsize, order)
    nbytes = _emm._span(shape, strides, dtype.itemsize)
    got = _emm.plugin_host_array(dev, nbytes, memkind == "mapped", portable, wc)
    if got is None:
        return None
    raw, devptr = got
    return np.ndarray(shape, dtype, buffer=raw, strides=strides), devptr


def pinned_array(shape, dtype=np.float64, strides=None, order="C"):
    """A NumPy array in page-locked host memory (fast and asynchronous copies)."""
    return _host_alloc(shape, dtype, strides, order, "pinned", "pinned_array")[0]


def pinned_array_like(ary):
    order = "F" if _is_f_only(ary) else "C"
    return pinned_array(ary.shape, ary.dtype, strides=_dense_strides_like(ary), order=order)


class MappedNDArray(np.ndarray):
    """A host NumPy array whose memory the device can also address directly
    (numba's ``__cuda_memory__`` mark: device memory too, for
    cuda.cudadrv.driver's raw operations)."""

    __cuda_memory__ = True

    def __array_finalize__(self, obj):
        self.device_pointer = getattr(obj, "device_pointer", None)
        self._ember_device = getattr(obj, "_ember_device", None)

    @property
    def __cuda_array_interface__(self):
        if self._ember_device is None or self._ember_device.kind != "cuda":
            raise AttributeError("__cuda_array_interface__: this mapped array belongs to the "
                                 "cpu device")
        return {"shape": self.shape, "strides": None if self.flags["C_CONTIGUOUS"] else self.strides,
                "data": (self.device_address(self.__array_interface__["data"][0]), False),
                "typestr": self.dtype.str, "version": 3, "stream": None}

    def device_address(self, host_address):
        """The device's address of a host address inside this array's memory
        (the allocation's device pointer, kept by the array that owns it)."""
        root = self
        while isinstance(root.base, MappedNDArray):
            root = root.base
        return root.device_pointer + (host_address - root.__array_interface__["data"][0])


def mapped_array(shape, dtype=np.float64, strides=None, order="C", stream=0, portable=False,
                 wc=False):
    """A host array mapped into the device's address space (on the cpu
    device: ordinary host memory)."""
    arr, devptr = _host_alloc(shape, dtype, strides, order, "mapped", "mapped_array",
                              portable=portable, wc=wc)
    mapped = arr.view(MappedNDArray)
    mapped.device_pointer = devptr
    mapped._ember_device = get_current_device()
    return mapped


def mapped_array_like(ary, stream=0, portable=False, wc=False):
    """A mapped array of ``ary``'s shape and dtype (F order if ``ary`` is)."""
    order = "F" if _is_f_only(ary) else "C"
    return mapped_array(ary.shape, ary.dtype, strides=_dense_strides_like(ary), order=order,
                        stream=stream, portable=portable, wc=wc)


class ManagedNDArray(MappedNDArray):
    """A NumPy array in unified (managed) memory: the host and the device use
    the same address, and the driver moves pages on demand."""


def managed_array(shape, dtype=np.float64, strides=None, order="C", stream=0,
                  attach_global=True):
    """An array in managed memory (``cuMemAllocManaged``), usable on the host
    as a NumPy array and passed to kernels without a copy. On the CPU device
    it is host memory. ``attach_global=False`` allocates it attached to the
    host (CU_MEM_ATTACH_HOST): on a GPU without concurrent managed access a
    stream must attach it before a kernel uses it, as in CUDA."""
    memkind = "managed" if attach_global else "managed_host"
    arr, devptr = _host_alloc(shape, dtype, strides, order, memkind, "managed_array")
    managed = arr.view(ManagedNDArray)
    managed.device_pointer = devptr
    managed._ember_device = get_current_device()
    return managed


def device_view_of_mapped(ary, dev):
    """The DeviceNDArray over a mapped or managed array's memory on ``dev``
    (no copy), or None when ``ary`` is not one of ``dev``'s."""
    if not isinstance(ary, MappedNDArray) or ary._ember_device is None or \
            ary._ember_device.key != dev.key or ary.size == 0:
        return None
    lo, hi = _byte_bounds(ary)
    return _ember.from_device_pointer(DeviceNDArray, dev.kind, dev.id, ary.device_address(lo),
                                      hi - lo,
                                      ary.shape, ary.strides, ary.dtype, ary,
                                      offset=ary.__array_interface__["data"][0] - lo)


def _byte_bounds(ary):
    """[lo, hi) addresses of the bytes an array spans, whatever its strides
    (np.byte_bounds, which NumPy 2 moved to np.lib.array_utils)."""
    lo = hi = ary.__array_interface__["data"][0]
    for n, s in zip(ary.shape, ary.strides):
        if s < 0:
            lo += (n - 1) * s
        else:
            hi += (n - 1) * s
    return lo, hi + ary.itemsize


@contextlib.contextmanager
def pinned(*arylist):
    """Page-lock the memory of host NumPy arrays for the ``with`` block, so
    that copies to and from them are fast and may be asynchronous (numba's
    ``cuda.pinned``; ``cuMemHostRegister``). On the CPU device it does
    nothing. The arrays must stay alive for the block; arrays sharing memory
    are locked once."""
    dev = get_current_device()
    ranges = []
    for ary in arylist:
        if not isinstance(ary, np.ndarray):
            raise TypeError(f"pinned: expected NumPy arrays, not {type(ary).__name__}")
        if ary.nbytes == 0:
            continue
        ranges.append(_byte_bounds(ary))
    # overlapping ranges (views of one array) are registered as one
    merged = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    done = []
    try:
        for lo, hi in merged:
            _ember.host_register(dev.kind, dev.id, lo, hi - lo)
            done.append(lo)
        yield
    finally:
        for lo in reversed(done):
            _ember.host_unregister(dev.kind, dev.id, lo)


@contextlib.contextmanager
def defer_cleanup():
    """numba's ``cuda.defer_cleanup()``: inside it numba queues frees
    instead of calling cuMemFree, which would wait for the device. ember
    never frees device memory synchronously: a freed buffer goes back to the
    device's caching pool (memory/pool.c), reused only once the work that
    used it has finished, and is released to the driver only to satisfy an
    allocation that found no room. So the block needs no change of
    behaviour; it exists so that numba code runs unchanged. With an EMM
    plugin installed, the block runs inside the plugin's defer_cleanup()."""
    mgr = _emm.manager_for(get_current_device())
    if mgr is None:
        yield
    else:
        with mgr.defer_cleanup():
            yield


@contextlib.contextmanager
def mapped(*arylist, stream=0):
    """numba's ``cuda.mapped``: page-locks host NumPy arrays and maps them
    into the device's address space for the ``with`` block, and gives
    device arrays over that same memory (one array, or a list for several):
    kernels read and write the host memory directly, without copies
    (``cuMemHostRegister`` with DEVICEMAP). On the CPU device the device
    arrays are views of the host memory itself. The host arrays must be
    contiguous (a device array has one base address) and not overlap."""
    dev = get_current_device()
    lowlevel_stream(stream, dev, "mapped")
    for ary in arylist:
        if not isinstance(ary, np.ndarray):
            raise TypeError(f"mapped: expected NumPy arrays, not {type(ary).__name__}")
        check_dtype(ary.dtype, "mapped")
        if not (ary.flags["C_CONTIGUOUS"] or ary.flags["F_CONTIGUOUS"]):
            raise ValueError("mapped: the arrays must be contiguous (copy a strided view with "
                             "np.ascontiguousarray first)")
    registered, devarys = [], []
    try:
        for ary in arylist:
            if ary.nbytes == 0:
                devarys.append(_device_empty(dev, ary.shape, ary.dtype, "C", None))
                continue
            lo, hi = _byte_bounds(ary)
            devptr = _ember.host_register(dev.kind, dev.id, lo, hi - lo, mapped=True)
            registered.append(lo)
            devarys.append(_ember.from_device_pointer(
                DeviceNDArray, dev.kind, dev.id, devptr, hi - lo, ary.shape, ary.strides,
                ary.dtype, ary, offset=ary.__array_interface__["data"][0] - lo))
        if stream:
            devarys = [d.bind(stream) for d in devarys]
        yield devarys[0] if len(devarys) == 1 else devarys
    finally:
        for lo in reversed(registered):
            _ember.host_unregister(dev.kind, dev.id, lo)
