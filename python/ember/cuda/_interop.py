"""Arrays shared with other libraries without copies: the CUDA Array
Interface (v3, numba's ``__cuda_array_interface__``) and DLPack.

* ``cuda.from_cuda_array_interface(desc, owner=None, sync=True)`` and
  ``cuda.as_cuda_array(obj)`` wrap CUDA memory another library (CuPy,
  PyTorch, numba) owns as a DeviceNDArray; the owner stays alive as long as
  the array (or a view of it) does. Kernels accept such objects directly.
* ``DeviceNDArray.__dlpack__`` / ``__dlpack_device__`` export, and
  ``cuda.from_dlpack(obj)`` imports, any DLPack producer's memory (NumPy
  host arrays become arrays of the cpu device, CUDA tensors arrays of their
  GPU).
"""

import numpy as np

from .. import _ember
from . import _devices

__all__ = ["from_cuda_array_interface", "as_cuda_array", "from_dlpack"]


def _span(shape, strides, itemsize):
    """(lowest, highest) byte offsets an array of these strides touches,
    relative to its first element, the highest counting the last item."""
    lo = hi = 0
    for n, s in zip(shape, strides):
        if n == 0:
            return 0, 0
        far = s * (n - 1)
        if far < 0:
            lo += far
        else:
            hi += far
    return lo, hi + itemsize


def _wait_for_producer(stream, dev):
    """Waits for the stream a __cuda_array_interface__ names (v3: 1 the
    legacy default stream, 2 the per-thread default stream, else a CUstream;
    0 is not allowed)."""
    if isinstance(stream, bool) or not isinstance(stream, int) or stream == 0:
        raise ValueError(f"__cuda_array_interface__: 'stream' must be None or a nonzero int "
                         f"(1, 2 or a CUstream handle), not {stream!r}")
    if stream == 2:  # per-thread default: not ember's, wait for the device
        _devices.synchronize()
        return
    _ember.Stream.wrap("cuda", dev.id, 0 if stream == 1 else stream).synchronize()


def _dtype_from_descr(descr):
    """The record dtype an array-interface ``descr`` lists: fields at their
    offsets, the unnamed entries (padding) left out. np.dtype(descr) would
    keep the padding as fields named f<k>."""
    names, formats, offsets, off = [], [], [], 0
    for entry in descr:
        name, typ = entry[0], entry[1]
        base = _dtype_from_descr(typ) if isinstance(typ, list) else np.dtype(typ)
        fdt = np.dtype((base, tuple(entry[2]))) if len(entry) > 2 else base
        if name:
            names.append(name)
            formats.append(fdt)
            offsets.append(off)
        off += fdt.itemsize
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": off})


def from_cuda_array_interface(desc, owner=None, sync=True):
    """A DeviceNDArray over the CUDA memory a ``__cuda_array_interface__``
    dict describes (no copy). With ``sync`` and a ``stream`` in the
    description, that stream is synchronised first (only it, not the
    device)."""
    from ._devicearray import DeviceNDArray, check_dtype
    if not isinstance(desc, dict):
        raise TypeError(f"__cuda_array_interface__ must be a dict, not {type(desc).__name__}")
    try:
        shape = tuple(int(n) for n in desc["shape"])
        typestr = desc["typestr"]
        ptr, readonly = desc["data"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"__cuda_array_interface__ lacks shape, typestr or data: {exc}") from None
    if desc.get("mask") is not None:
        raise NotImplementedError("__cuda_array_interface__ with a mask is not supported")
    dtype = np.dtype(typestr)
    if dtype.kind == "V" and desc.get("descr"):  # records: their fields are in descr
        try:
            dtype = _dtype_from_descr(desc["descr"])
        except (TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"from_cuda_array_interface: descr {desc['descr']!r} is not a "
                             f"NumPy array-interface description ({exc})") from None
        if dtype.itemsize != np.dtype(typestr).itemsize:
            raise ValueError(f"from_cuda_array_interface: descr describes {dtype.itemsize}-byte "
                             f"items, typestr {typestr!r} others")
    dtype = check_dtype(dtype, "from_cuda_array_interface")
    if not dtype.isnative:
        raise ValueError(f"from_cuda_array_interface: typestr {typestr!r} is not in the "
                         "machine's byte order")
    strides = desc.get("strides")
    if strides is None:
        strides, step = [], dtype.itemsize
        for n in reversed(shape):
            strides.insert(0, step)
            step *= max(n, 1)
    strides = tuple(int(s) for s in strides)
    if len(strides) != len(shape):
        raise ValueError(f"from_cuda_array_interface: {len(strides)} strides for "
                         f"{len(shape)} dimensions")
    dev = _devices.get_current_device()
    if dev.kind != "cuda":
        raise ValueError("from_cuda_array_interface: the interface describes CUDA memory, but "
                         "the current device is the CPU; select a GPU with "
                         "cuda.select_device(n)")
    if sync and desc.get("stream") is not None:
        _wait_for_producer(desc["stream"], dev)
    lo, hi = _span(shape, strides, dtype.itemsize)
    ptr = int(ptr or 0)
    return _ember.from_device_pointer(DeviceNDArray, "cuda", dev.id, ptr + lo, hi - lo, shape,
                                      strides, dtype, desc if owner is None else owner,
                                      offset=-lo)


def as_cuda_array(obj, sync=True):
    """``obj`` as a DeviceNDArray: itself when it is one, else a view of the
    memory its ``__cuda_array_interface__`` describes."""
    from ._devicearray import DeviceNDArray
    if isinstance(obj, DeviceNDArray):
        return obj
    try:
        desc = obj.__cuda_array_interface__
    except AttributeError:
        raise TypeError(f"as_cuda_array: {type(obj).__name__} has no "
                        "__cuda_array_interface__") from None
    return from_cuda_array_interface(desc, owner=obj, sync=sync)


def from_dlpack(obj):
    """A DeviceNDArray over a DLPack producer's memory (no copy): a NumPy
    array becomes an array of the cpu device, a CUDA tensor one of its GPU.
    A raw 'dltensor' capsule is accepted too."""
    from ._devicearray import DeviceNDArray
    if type(obj).__name__ == "PyCapsule":
        capsule = obj
    else:
        if not hasattr(obj, "__dlpack__"):
            raise TypeError(f"from_dlpack: {type(obj).__name__} does not support DLPack "
                            "(no __dlpack__)")
        kind = obj.__dlpack_device__()[0] if hasattr(obj, "__dlpack_device__") else 1
        # CUDA producers make the data ready on the stream we name: the
        # legacy default stream (1), which ember's default stream is.
        capsule = obj.__dlpack__(stream=1) if kind == 2 else obj.__dlpack__()
    return _ember.from_dlpack_capsule(DeviceNDArray, capsule)
