"""ember's arrays in Dask: dask.array chunks, ``sizeof``, and the serialisers
dask.distributed uses to move DeviceNDArrays between processes.

Kernels and jitted functions need nothing here: they pickle
(python/ember/_pickle.py), which is how Dask ships a task's function. What
Dask needs to be told about is the DeviceNDArray type, the way
distributed/protocol/numba.py tells it about numba's device arrays:

* ``dask_serialize`` / ``dask_deserialize``: a header (shape, strides,
  dtype) and one frame of bytes. On the cpu device the frame is the array's
  own memory (zero copy on the way out); a received frame that is writeable
  becomes the new array's memory (zero copy on the way in), else it is
  copied. A GPU array's frame is a host copy.
* ``cuda_serialize`` / ``cuda_deserialize`` (the "cuda" family dask-cuda
  uses with UCX): the frame is the GPU memory itself, as a 1-D uint8
  DeviceNDArray; cpu-device arrays decline (NotImplementedError), so
  distributed takes the next family.
* ``dask.sizeof``: the array's bytes, so the scheduler's memory accounting
  sees device arrays.
* ``dask.array``'s ``concatenate_lookup``: a dask array whose chunks are
  DeviceNDArrays computes to one DeviceNDArray, assembled on the device.

Registration happens when both sides exist: at ``import ember`` for the
Dask modules already imported, and otherwise right after Dask imports them
(a finder on ``sys.meta_path`` that waits for those module names; importing
ember never imports Dask). ``register()`` does it by hand.
"""

import os
import sys
import threading

import numpy as np

# NumPy 2 moved it to np.exceptions (1.25+); np.AxisError is gone in 2.0
_AxisError = getattr(getattr(np, "exceptions", np), "AxisError", None) or np.AxisError

__all__ = ["register", "install"]

_done = set()
_lock = threading.Lock()


def _new_lock():  # in a forked child: the parent's may be held by a thread not there
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock)


# ---------------------------------------------------------------------------
# The registrations, one per Dask module
# ---------------------------------------------------------------------------

def _register_sizeof():
    from dask.sizeof import sizeof
    from .cuda._devicearray import DeviceNDArray

    @sizeof.register(DeviceNDArray)
    def _sizeof_device_array(d):
        return int(d.nbytes)


def _register_array():
    from dask.array.dispatch import concatenate_lookup
    from .cuda._devicearray import DeviceNDArray
    concatenate_lookup.register(DeviceNDArray)(concatenate)


def _register_distributed():
    from distributed.protocol.cuda import cuda_deserialize, cuda_serialize
    from distributed.protocol.serialize import dask_deserialize, dask_serialize
    from .cuda._devicearray import DeviceNDArray
    dask_serialize.register(DeviceNDArray)(serialize)
    dask_deserialize.register(DeviceNDArray)(deserialize)
    cuda_serialize.register(DeviceNDArray)(cuda_serialize_device_array)
    cuda_deserialize.register(DeviceNDArray)(cuda_deserialize_device_array)


_REGISTRATIONS = {
    "dask.sizeof": _register_sizeof,
    "dask.array": _register_array,
    "distributed.protocol": _register_distributed,
}


def _run(name):
    with _lock:
        if name in _done:
            return
        _done.add(name)
    _REGISTRATIONS[name]()


def _run_quietly(name):
    """_run from an import hook: a Dask whose modules moved must not break
    the user's import; device arrays then travel by pickle, which works."""
    try:
        _run(name)
    except Exception as exc:  # noqa: BLE001 (any failure of a foreign API)
        import warnings
        warnings.warn(f"ember could not register DeviceNDArray with {name} ({exc}); "
                      "device arrays will travel by pickle", RuntimeWarning, stacklevel=2)


def register():
    """Registers ember's DeviceNDArray with every Dask module that can be
    imported (it imports them); returns the names registered."""
    import importlib
    for name in _REGISTRATIONS:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        _run(name)
    return sorted(_done)


class _AfterImport:
    """A meta path finder that runs a registration right after Dask's module
    of that name has executed. It finds nothing itself: it asks the finders
    after it for the spec and wraps that spec's loader's exec_module."""

    def find_spec(self, name, path=None, target=None):
        if name not in _REGISTRATIONS or name in _done:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            _run_quietly(name)
        loader.exec_module = exec_then_register   # this module's own loader object
        return spec


def install():
    """At ``import ember``: registers with the Dask modules already imported
    and waits for the others."""
    for name in _REGISTRATIONS:
        if name in sys.modules:
            _run_quietly(name)
    if not all(n in _done for n in _REGISTRATIONS) and \
            not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport())


# ---------------------------------------------------------------------------
# dask.array: concatenating device chunks on the device
# ---------------------------------------------------------------------------

def concatenate(arrays, axis=0):
    """``np.concatenate`` for DeviceNDArrays: a new array on the current
    device with each piece copied into its place (device to device); host
    pieces are copied in."""
    from . import cuda
    arrays = list(arrays)
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    first = arrays[0]
    ndim = first.ndim
    if ndim == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    axis = axis + ndim if axis < 0 else axis
    if not 0 <= axis < ndim:
        raise _AxisError(axis, ndim)
    dtype = np.result_type(*[a.dtype for a in arrays])
    shape = list(first.shape)
    for a in arrays[1:]:
        if a.ndim != ndim or any(a.shape[k] != shape[k] for k in range(ndim) if k != axis):
            raise ValueError(f"concatenate: shapes {first.shape} and {a.shape} do not match "
                             f"outside axis {axis}")
        shape[axis] += a.shape[axis]
    out = cuda.device_array(tuple(shape), dtype=dtype)
    start = 0
    for a in arrays:
        n = a.shape[axis]
        if n:
            key = (slice(None),) * axis + (slice(start, start + n),)
            if isinstance(a, cuda.DeviceNDArray) and a.dtype == dtype:
                out[key] = a
            else:
                out[key] = np.asarray(a).astype(dtype, copy=False)
        start += n
    return out


# ---------------------------------------------------------------------------
# dask.distributed: the serialisers
# ---------------------------------------------------------------------------

def _contiguous(d):
    """`d`, or a contiguous copy of it on its device."""
    if d.is_c_contiguous() or d.is_f_contiguous():
        return d
    from .cuda._memory import device_array
    c = device_array(d.shape, dtype=d.dtype)
    c.copy_to_device(d)
    return c


def serialize(d):
    """dask_serialize: (header, [one frame of the array's bytes])."""
    d = _contiguous(d)
    if d.device.kind == "cpu":
        host = np.asarray(memoryview(d))     # the array's memory, not a copy
    else:
        host = d.copy_to_host()
    header = {"shape": tuple(d.shape), "strides": tuple(d.strides), "typestr": d.dtype.str,
              "device": d.device.kind}
    return header, [host.ravel(order="K").view(np.uint8).data]


def deserialize(header, frames):
    """dask_deserialize: the array on this process's current device."""
    from ._pickle import _rebuild_device_array
    (frame,) = frames
    host = np.ndarray(tuple(header["shape"]), dtype=np.dtype(header["typestr"]),
                      buffer=frame, strides=tuple(header["strides"]))
    return _rebuild_device_array(host)


def cuda_serialize_device_array(d):
    """cuda_serialize: the GPU memory itself as the frame (UCX moves it)."""
    if d.device.kind != "cuda":
        raise NotImplementedError("a cpu-device array goes through the 'dask' serialiser")
    d = _contiguous(d)
    header = dict(d.__cuda_array_interface__)
    header["strides"] = tuple(d.strides)
    header["lengths"] = [d.nbytes]
    flat = d.reshape(d.size, order="C" if d.is_c_contiguous() else "F") if d.ndim else d
    frame = flat.view(np.uint8) if d.size else flat
    return header, [frame]


def cuda_deserialize_device_array(header, frames):
    """cuda_deserialize: a DeviceNDArray over the received GPU frame (which
    holds the contiguous bytes cuda_serialize sent)."""
    from . import _ember
    from .cuda._devicearray import DeviceNDArray
    from .cuda._interop import as_cuda_array
    (frame,) = frames
    f = frame if isinstance(frame, DeviceNDArray) else as_cuda_array(frame)
    dev = f.device
    return _ember.from_device_pointer(DeviceNDArray, dev.kind, dev.id, f.device_pointer,
                                      f.nbytes, tuple(header["shape"]),
                                      tuple(header["strides"]), np.dtype(header["typestr"]), f)
