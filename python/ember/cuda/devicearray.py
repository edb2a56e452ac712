"""``cuda.devicearray``: numba's public names for device arrays (and
DeviceRecord, one record on the device) and the helpers that go with them
(checks of the device-array interface, the contiguous core of a broadcast
array, ``auto_device``)."""

import numpy as np

from ._devicearray import DeviceNDArray
from ._devicerecord import DeviceRecord, from_record_like
from ._memory import MappedNDArray, to_device

__all__ = ["DeviceNDArray", "DeviceRecord", "from_record_like", "MappedNDArray", "is_cuda_ndarray", "verify_cuda_ndarray_interface",
           "require_cuda_ndarray", "from_array_like", "array_core", "is_contiguous",
           "errmsg_contiguous_buffer", "sentry_contiguous", "auto_device",
           "check_array_compatibility"]

errmsg_contiguous_buffer = ("Array contains non-contiguous buffer and cannot be transferred as "
                            "a single memory region. Please ensure contiguous buffer with "
                            "numpy .ascontiguousarray()")


def is_cuda_ndarray(obj):
    """True for ember's device arrays (numba's ``__cuda_ndarray__`` mark)."""
    return bool(getattr(obj, "__cuda_ndarray__", False))


def require_cuda_ndarray(obj):
    if not is_cuda_ndarray(obj):
        raise ValueError("require a device array (a DeviceNDArray)")


def verify_cuda_ndarray_interface(obj):
    """ValueError unless ``obj`` is a device array; AttributeError unless its
    shape, strides, dtype and size have the types numba's interface says."""
    require_cuda_ndarray(obj)
    for attr, typ in (("shape", tuple), ("strides", tuple), ("dtype", np.dtype), ("size", int)):
        if not hasattr(obj, attr):
            raise AttributeError(attr)
        if not isinstance(getattr(obj, attr), typ):
            raise AttributeError(f"{attr} must be of type {typ}")


def from_array_like(ary, stream=0):
    """An uninitialised device array with ``ary``'s shape, strides and dtype."""
    return DeviceNDArray(ary.shape, ary.strides, ary.dtype, stream=stream)


def array_core(ary):
    """The view of ``ary`` without its broadcast (stride 0) axes: the memory
    a copy has to move."""
    if not ary.strides or not ary.size:
        return ary
    return ary[tuple(0 if s == 0 else slice(None) for s in ary.strides)]


def is_contiguous(ary):
    """True when ``ary`` is C-contiguous once broadcast and length-1 axes are
    ignored."""
    size = ary.dtype.itemsize
    for n, stride in zip(reversed(ary.shape), reversed(ary.strides)):
        if n > 1 and stride != 0:
            if stride != size:
                return False
            size *= n
    return True


def sentry_contiguous(ary):
    core = array_core(ary)
    if not core.flags["C_CONTIGUOUS"] and not core.flags["F_CONTIGUOUS"]:
        raise ValueError(errmsg_contiguous_buffer)


def auto_device(obj, stream=0, copy=True, user_explicit=False):
    """``(device_array, copied)``: ``obj`` itself when it is device memory,
    else a device copy of it (scalars and sequences become arrays)."""
    from . import as_cuda_array
    if is_cuda_ndarray(obj):
        return obj, False
    if hasattr(obj, "__cuda_array_interface__"):
        return as_cuda_array(obj), False
    if isinstance(obj, np.void) and obj.dtype.fields is not None:
        return to_device(obj, stream=stream, copy=copy), True  # a DeviceRecord
    if not isinstance(obj, np.ndarray):
        obj = np.asarray(obj)
    else:
        sentry_contiguous(obj)
    return to_device(obj, stream=stream, copy=copy), True


def check_array_compatibility(ary1, ary2):
    """TypeError for different dtypes, ValueError for shapes or strides that
    differ once length-1 axes are dropped."""
    sq1, sq2 = ary1.squeeze(), ary2.squeeze()
    if ary1.dtype != ary2.dtype:
        raise TypeError(f"incompatible dtype: {ary1.dtype} vs. {ary2.dtype}")
    if sq1.shape != sq2.shape:
        raise ValueError(f"incompatible shape: {ary1.shape} vs. {ary2.shape}")
    if ary1.size and sq1.strides != sq2.strides:
        raise ValueError(f"incompatible strides: {ary1.strides} vs. {ary2.strides}")
