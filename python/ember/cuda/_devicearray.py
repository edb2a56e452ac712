"""DeviceNDArray: an n-dimensional array in a device's memory.

The descriptor (shape, byte strides, offset, a reference to the buffer) lives
in C (``_ember.Array``) so that kernel launches read it without Python; this
class adds NumPy-style indexing, reshaping and copies. Views never copy: they
share the buffer, and the C layer refuses any view that would reach outside
it. Element access (full integer indexing) copies that element to the host,
as in numba; of an array of records (a structured dtype) it is a
DeviceRecord, a view of that record in device memory whose fields read and
write the device (cuda/_devicerecord.py).
"""

import operator

import numpy as np

from .. import _ember
from . import _devices
from . import _graphs
from ._streams import lowlevel_stream

# NumPy's AxisError (a ValueError and an IndexError); NumPy 2 keeps it only
# in np.exceptions
_AxisError = np.exceptions.AxisError if hasattr(np, "exceptions") else np.AxisError


def check_dtype(dtype, what):
    """``dtype`` when ember arrays can hold it; else the extension's TypeError,
    prefixed with the call that was given it."""
    try:
        return _ember.check_dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{what}: {exc}") from None


def _host_array(obj, what):
    """``obj`` as a NumPy array of a dtype ember arrays can hold."""
    if isinstance(obj, np.ndarray):
        arr = obj
    else:
        try:
            arr = np.asarray(obj)
        except Exception as exc:  # NumPy raises various errors for odd objects
            raise TypeError(f"{what}: expected an array-like of numbers, got "
                            f"{type(obj).__name__} ({exc})") from None
    if arr.dtype.kind in "OUS" or (arr.dtype.kind == "V" and arr.dtype.fields is None):
        raise TypeError(f"{what}: expected an array-like of numbers, got {type(obj).__name__} "
                        f"(it converts to a NumPy array of dtype {arr.dtype})")
    check_dtype(arr.dtype, what)
    return arr


def _check_compatible(what, mine, other_shape, other_dtype):
    """numba's rule: same dtype (TypeError), same shape ignoring axes of length 1 (ValueError)."""
    if np.dtype(other_dtype) != mine.dtype:
        raise TypeError(f"{what}: incompatible dtype: the device array holds {mine.dtype}, "
                        f"the other array {np.dtype(other_dtype)}")
    if tuple(other_shape) != mine.shape and (
            tuple(d for d in other_shape if d != 1) != tuple(d for d in mine.shape if d != 1)):
        raise ValueError(f"{what}: incompatible shape: the device array has shape {mine.shape}, "
                         f"the other array {tuple(other_shape)}")


class DeviceNDArray(_ember.Array):
    """An array on a device (a GPU, or the CPU device). Create one with
    ``cuda.to_device``, ``cuda.device_array`` or ``cuda.device_array_like``
    (or, as in numba, ``DeviceNDArray(shape, strides, dtype)``)."""

    __cuda_memory__ = True
    __cuda_ndarray__ = True
    stream = 0  # the stream bind() gave it: copies with stream=0 use it

    def __new__(cls, shape, strides, dtype, stream=0, gpu_data=None):
        if gpu_data is not None:
            raise TypeError("DeviceNDArray(..., gpu_data=...): ember arrays own their memory; "
                            "wrap foreign memory with cuda.from_cuda_array_interface")
        from ._memory import device_array
        arr = device_array(shape, dtype, strides=strides, stream=stream)
        if cls is not DeviceNDArray:
            arr = arr._make_view(0, arr.shape, arr.strides, None, cls)
        return arr

    def _stream_or_bound(self, stream):
        return self.stream if not stream else stream

    def bind(self, stream=0):
        """The same memory, with ``stream`` as the default of its copies."""
        view = self._make_view(0, self.shape, self.strides)
        view.stream = stream
        return view

    @property
    def flags(self):
        """NumPy's flags for this shape and these strides (C_CONTIGUOUS,
        F_CONTIGUOUS ...; read-only)."""
        probe = np.lib.stride_tricks.as_strided(np.empty(1, self.dtype), self.shape,
                                                self.strides, writeable=False)
        return probe.flags

    @property
    def alloc_size(self):
        """Bytes from the lowest to the highest byte of its elements (numba's
        alloc_size: nbytes for a contiguous array)."""
        if self.size == 0:
            return 0
        return sum((n - 1) * abs(s) for n, s in zip(self.shape, self.strides)) + self.itemsize

    @property
    def device_ctypes_pointer(self):
        import ctypes
        return ctypes.c_void_p(self.device_pointer)

    def as_cuda_arg(self):
        return self.device_ctypes_pointer

    @property
    def gpu_data(self):
        """numba's MemoryPointer over the bytes this array spans (the EMM
        plugin's own when the array covers its whole allocation)."""
        from ._ipc import array_gpu_data
        return array_gpu_data(self)

    def get_ipc_handle(self):
        """An IpcArrayHandle that another process opens (``with h as
        darr:``) to use this array's memory without a copy; it pickles.
        Needs a CUDA GPU (NotImplementedError on the cpu device). Keep this
        array alive while others use the handle."""
        from ._ipc import array_ipc_handle
        return array_ipc_handle(self)

    def squeeze(self, axis=None, stream=0):
        """A view without the axes of length 1 (or only ``axis``)."""
        if axis is None:
            axes = [i for i, d in enumerate(self.shape) if d == 1]
        else:
            axes = [operator.index(a) % max(self.ndim, 1)
                    for a in (axis if isinstance(axis, tuple) else (axis,))]
            for a in axes:
                if self.shape[a] != 1:
                    raise ValueError(f"squeeze: axis {a} has length {self.shape[a]}, not 1")
        keep = [i for i in range(self.ndim) if i not in axes]
        return self._make_view(0, [self.shape[i] for i in keep], [self.strides[i] for i in keep])

    def getitem(self, item, stream=0):
        """``self[item]``, with the copy of a single element on ``stream``."""
        offset, shape, strides, integer_only = self._index(item)
        if integer_only and self.dtype.fields is not None:
            return self._record_view(offset, stream)
        view = self._make_view(offset, shape, strides)
        if integer_only:
            host = np.empty((), dtype=self.dtype)
            view._copy_to(host, lowlevel_stream(self._stream_or_bound(stream), self.device,
                                                "getitem"))
            return host[()]
        return view

    def _record_view(self, offset, stream=0, dtype=None):
        """The DeviceRecord at byte `offset` (numba: a record of an array
        stays on the device), of this array's dtype or `dtype`."""
        from ._devicerecord import DeviceRecord
        rec = self._make_view(offset, (), (), dtype, DeviceRecord)
        if stream:
            rec.stream = stream
        return rec

    def setitem(self, key, value, stream=0):
        """``self[key] = value`` with the copy on ``stream``."""
        self._setitem(key, value, self._stream_or_bound(stream))

    # -- basic properties (shape, strides, dtype, size, ndim, nbytes,
    #    itemsize come from _ember.Array) --

    @property
    def device(self):
        """The Device this array lives on."""
        return _devices.device(*_ember.Array.device.__get__(self))

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d device array")
        return self.shape[0]

    def __repr__(self):
        kind, ordinal = _ember.Array.device.__get__(self)
        return (f"<ember.cuda.DeviceNDArray shape={self.shape} dtype={self.dtype} "
                f"on {kind}:{ordinal}>")

    @property
    def __cuda_array_interface__(self):
        kind, _ = _ember.Array.device.__get__(self)
        if kind != "cuda":
            raise AttributeError(
                "__cuda_array_interface__: this array lives on the cpu device, not in CUDA "
                "memory; use copy_to_host() or np.asarray() to get a host array")
        iface = {
            "shape": self.shape,
            "strides": None if self.is_c_contiguous() else self.strides,
            "data": (self.device_pointer, False),
            "typestr": self.dtype.str,
            "version": 3,
            "stream": None,
        }
        if self.dtype.fields is not None:  # records: typestr is only '|V<size>'
            iface["descr"] = self.dtype.descr
        return iface

    # -- DLPack (cuda/_interop.py has the import side) --

    def __dlpack__(self, stream=None):
        """A DLPack capsule over this array's memory (no copy). A CUDA
        consumer's `stream` gets the data after the device's pending work:
        ember synchronises the device first."""
        kind, _ = _ember.Array.device.__get__(self)
        if kind == "cuda" and stream not in (None, -1):
            _devices.synchronize()
        return _ember.to_dlpack(self)

    def __dlpack_device__(self):
        return _ember.dlpack_device(self)

    # -- views --

    def _make_view(self, offset, shape, strides, dtype=None, cls=None):
        view = self._view(cls or type(self), offset, tuple(shape), tuple(strides), dtype)
        if self.stream:
            view.stream = self.stream
        return view

    def _index(self, key):
        """(offset, shape, strides, integer_only) of the basic-indexing view ``self[key]``."""
        if not isinstance(key, tuple):
            key = (key,)
        n_ell = sum(1 for k in key if k is Ellipsis)
        if n_ell > 1:
            raise IndexError("an index can only have a single ellipsis ('...')")
        n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
        if n_real > self.ndim:
            raise IndexError(f"too many indices for device array: array is {self.ndim}-dimensional, "
                             f"but {n_real} were indexed")
        if n_ell:
            i = key.index(Ellipsis)
            key = key[:i] + (slice(None),) * (self.ndim - n_real) + key[i + 1:]
        else:
            key = key + (slice(None),) * (self.ndim - n_real)
        offset, shape, strides = 0, [], []
        axis = 0
        integer_only = True
        for k in key:
            if k is None:
                shape.append(1)
                strides.append(0)
                integer_only = False
                continue
            dim, stride = self.shape[axis], self.strides[axis]
            if isinstance(k, slice):
                start, stop, step = k.indices(dim)
                shape.append(len(range(start, stop, step)))
                strides.append(stride * step)
                if shape[-1]:
                    offset += start * stride
                integer_only = False
            else:
                if isinstance(k, (bool, np.bool_)):
                    raise IndexError("boolean indices are not supported on device arrays; "
                                     "copy to the host first")
                try:
                    i = operator.index(k)
                except TypeError:
                    raise IndexError(
                        f"device arrays support integers, slices, '...' and None as indices, "
                        f"not {type(k).__name__} (advanced indexing needs a host copy)") from None
                if not -dim <= i < dim:
                    raise IndexError(f"index {i} is out of bounds for axis {axis} with size {dim}")
                offset += (i % dim) * stride
            axis += 1
        return offset, shape, strides, integer_only

    def __getitem__(self, key):
        offset, shape, strides, integer_only = self._index(key)
        if integer_only and self.dtype.fields is not None:
            return self._record_view(offset)
        view = self._make_view(offset, shape, strides)
        if integer_only:  # one element: numba returns it as a host scalar
            host = np.empty((), dtype=self.dtype)
            view._copy_to(host)
            return host[()]
        return view

    def __setitem__(self, key, value):
        self._setitem(key, value, self.stream)

    def _setitem(self, key, value, stream):
        offset, shape, strides, _ = self._index(key)
        view = self._make_view(offset, shape, strides)
        if isinstance(value, DeviceNDArray):
            view.copy_to_device(value, stream=stream)
            return
        # NumPy's own assignment into a host array of the view's shape: the
        # same broadcasting, casting and error messages as ndarray.__setitem__
        host = np.empty(view.shape, dtype=self.dtype)
        try:
            host[...] = value
        except TypeError as exc:
            raise ValueError(f"cannot assign {type(value).__name__} to a device array view of "
                             f"shape {tuple(view.shape)} and dtype {self.dtype}: {exc}") from None
        view._copy_from(host, lowlevel_stream(stream, self.device, "setitem"))

    def reshape(self, *newshape, order="C"):
        """A view with a new shape; the array must be contiguous in ``order``."""
        if len(newshape) == 1 and not isinstance(newshape[0], (int, np.integer)):
            newshape = tuple(newshape[0])
        newshape = [operator.index(d) for d in newshape]
        if order not in ("C", "F", "A"):
            raise ValueError(f"reshape: order must be 'C', 'F' or 'A', not {order!r}")
        unknown = [i for i, d in enumerate(newshape) if d == -1]
        if len(unknown) > 1 or any(d < -1 for d in newshape):
            raise ValueError(f"reshape: invalid shape {tuple(newshape)}")
        known = 1
        for d in newshape:
            if d != -1:
                known *= d
        if unknown:
            if known == 0 or self.size % known:
                raise ValueError(f"reshape: cannot reshape array of size {self.size} into "
                                 f"shape {tuple(newshape)}")
            newshape[unknown[0]] = self.size // known
        elif known != self.size:
            raise ValueError(f"reshape: cannot reshape array of size {self.size} into shape "
                             f"{tuple(newshape)}")
        if order == "A":
            order = "F" if self.is_f_contiguous() and not self.is_c_contiguous() else "C"
        if order == "C" and not self.is_c_contiguous() or order == "F" and not self.is_f_contiguous():
            raise NotImplementedError(
                f"reshape: the array is not {order}-contiguous, so the new shape needs a copy; "
                "copy it first (e.g. to_device(arr.copy_to_host()))")
        return self._make_view(0, newshape, _dense_strides(newshape, self.itemsize, order))

    def ravel(self, order="C"):
        """A 1-D view of a contiguous array."""
        return self.reshape(self.size, order=order)

    def view(self, dtype):
        """The same memory read as another dtype (the last axis must be
        contiguous). Refusals carry NumPy's words for the same ndarray.view."""
        dtype = check_dtype(np.dtype(dtype), "view")
        old = self.itemsize
        if dtype.itemsize == old:
            return self._make_view(0, self.shape, self.strides, dtype)
        if self.ndim == 0:
            raise ValueError("Changing the dtype of a 0d array is only supported if the "
                             "itemsize is unchanged")
        if self.strides[-1] != old and self.shape[-1] != 1:
            raise ValueError("To change to a dtype of a different size, the last axis must "
                             f"be contiguous (its stride is {self.strides[-1]} bytes, the "
                             f"itemsize {old})")
        nbytes = self.shape[-1] * old
        if dtype.itemsize > old and nbytes % dtype.itemsize:
            raise ValueError("When changing to a larger dtype, its size must be a divisor of "
                             "the total size in bytes of the last axis of the array.")
        if dtype.itemsize < old and old % dtype.itemsize:
            raise ValueError("When changing to a smaller dtype, its size must be a divisor of "
                             "the size of original dtype")
        shape = self.shape[:-1] + (nbytes // dtype.itemsize,)
        strides = self.strides[:-1] + (dtype.itemsize,)
        return self._make_view(0, shape, strides, dtype)

    def transpose(self, axes=None):
        """A view with the axes permuted (reversed without ``axes``);
        refusals carry NumPy's words for the same ndarray.transpose."""
        if axes is None:
            axes = tuple(reversed(range(self.ndim)))
        axes = tuple(operator.index(a) for a in axes)
        if len(axes) != self.ndim:
            raise ValueError("axes don't match array")
        for a in axes:
            if not -self.ndim <= a < self.ndim:
                raise _AxisError(a, self.ndim)
        axes = tuple(a % self.ndim for a in axes)
        if len(set(axes)) != len(axes):
            raise ValueError("repeated axis in transpose")
        return self._make_view(0, [self.shape[a] for a in axes], [self.strides[a] for a in axes])

    @property
    def T(self):
        return self.transpose()

    def split(self, section, stream=0):
        """Split a 1-D array into views of ``section`` elements (the last may be shorter)."""
        if self.ndim != 1:
            raise ValueError("split: only 1-D arrays can be split")
        section = operator.index(section)
        if section <= 0:
            raise ValueError(f"split: section must be positive, not {section}")
        return [self[i:i + section] for i in range(0, self.size, section)]

    # -- copies --

    def copy_to_host(self, ary=None, stream=0):
        """Copy to a new NumPy array (or into ``ary``) and return it."""
        dev = self.device
        s = lowlevel_stream(self._stream_or_bound(stream), dev, "copy_to_host")
        if ary is None:
            order = "F" if self.is_f_contiguous() and not self.is_c_contiguous() else "C"
            ary = np.empty(self.shape, dtype=self.dtype, order=order)
        else:
            if not isinstance(ary, np.ndarray):
                raise TypeError(f"copy_to_host: ary must be a NumPy array, not {type(ary).__name__}")
            _check_compatible("copy_to_host", self, ary.shape, ary.dtype)
            if not ary.flags.writeable:
                raise ValueError("copy_to_host: ary is read-only")
        target = ary if ary.shape == self.shape else ary.reshape(self.shape)
        self._copy_to(target, s)
        if s is not None and s in _graphs._open:  # a graph replays it: keep both sides
            _graphs.keep_alive(s, self, ary)
        return ary

    def copy_to_device(self, ary, stream=0):
        """Copy a host array-like or another device array of the same device into this one."""
        dev = self.device
        s = lowlevel_stream(self._stream_or_bound(stream), dev, "copy_to_device")
        if isinstance(ary, DeviceNDArray):
            if ary.device != dev:
                raise ValueError(f"copy_to_device: the source lives on {ary.device} and this array "
                                 f"on {dev}; mixing devices needs a host copy "
                                 "(src.copy_to_host()) in between")
            _check_compatible("copy_to_device", self, ary.shape, ary.dtype)
            src = ary if ary.shape == self.shape else ary.reshape(self.shape)
            self._copy_from(src, s)
            if s is not None and s in _graphs._open:
                _graphs.keep_alive(s, self, ary)
            return
        host = _host_array(ary, "copy_to_device")
        _check_compatible("copy_to_device", self, host.shape, host.dtype)
        self._copy_from(host if host.shape == self.shape else host.reshape(self.shape), s)
        if s is not None and s in _graphs._open:
            _graphs.keep_alive(s, self, host)

    def copy_to_device_async(self, ary, stream):
        self.copy_to_device(ary, stream)

    def __array__(self, dtype=None, copy=None):
        # NumPy 2 passes copy: False means "never copy", which a device
        # array cannot honour (NumPy 1.x never passes it).
        if copy is False:
            raise ValueError("a device array cannot be viewed as a NumPy array without a "
                             "copy: use np.asarray(a) or a.copy_to_host()")
        host = self.copy_to_host()
        return host if dtype is None else host.astype(dtype, copy=False)

    def get(self):
        """CuPy spelling of copy_to_host()."""
        return self.copy_to_host()

    def __reduce__(self):
        """Pickles the data (a host copy; on the cpu device the memory itself,
        out of band with protocol 5), restored on the receiver's current
        device (python/ember/_pickle.py)."""
        from .._pickle import reduce_device_array
        return reduce_device_array(self)


def _dense_strides(shape, itemsize, order):
    strides = [0] * len(shape)
    s = itemsize
    for i in (reversed(range(len(shape))) if order == "C" else range(len(shape))):
        strides[i] = s
        s *= max(shape[i], 1)
    return strides


_ember._set_device_array_type(DeviceNDArray)  # the arrays the C launch path takes
