"""DeviceRecord: one record of a structured dtype in device memory.

numba's class of the same name: ``cuda.to_device(rec)`` of a NumPy record
(np.void / np.record), ``DeviceRecord(dtype)``, and ``darr[i]`` of an array
of records give one. It is a 0-d DeviceNDArray whose ``rec['x']`` reads a
field from the device (a number or string field comes back as a host
scalar, a nested record as another DeviceRecord, an array field as a
DeviceNDArray view) and whose ``rec['x'] = v`` writes only that field's
bytes. Passed to a kernel it is a record argument, by reference: the
kernel's writes stay on the device.
"""

import numpy as np

from ._devicearray import DeviceNDArray, _dense_strides
from ._streams import lowlevel_stream

__all__ = ["DeviceRecord", "from_record_like"]


class DeviceRecord(DeviceNDArray):
    """A record on the device (numba.cuda.cudadrv.devicearray.DeviceRecord)."""

    def __new__(cls, dtype, stream=0, gpu_data=None):
        dtype = np.dtype(dtype)
        if dtype.fields is None:
            raise TypeError(f"DeviceRecord: dtype must be a structured dtype, not {dtype}")
        return super().__new__(cls, (), (), dtype, stream=stream, gpu_data=gpu_data)

    @property
    def _numba_type_(self):
        """The record's ember type (numba's ``types.Record``)."""
        from ..np.numpy_support import from_dtype
        return from_dtype(self.dtype)

    def _field(self, key, what):
        """(dtype, byte offset) of field `key` (a name, or a position as np.void takes)."""
        names = self.dtype.names
        if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
            if not -len(names) <= key < len(names):
                raise IndexError(f"{what}: field index {key} is out of range for a record "
                                 f"of {len(names)} fields")
            key = names[key]
        if not isinstance(key, str) or key not in self.dtype.fields:
            raise KeyError(f"{what}: the record has no field {key!r} (its fields are "
                           f"{', '.join(names)})")
        return self.dtype.fields[key][:2]

    def _field_bytes(self, typ, offset):
        """A uint8 view of the field's bytes."""
        return self._make_view(offset, (typ.itemsize,), (1,), np.dtype(np.uint8), DeviceNDArray)

    def _array_field(self, typ, offset):
        base, shape = typ.subdtype
        return self._make_view(offset, shape, _dense_strides(shape, base.itemsize, "C"), base,
                               DeviceNDArray)

    def getitem(self, item, stream=0):
        """``self[item]`` with the copy of a number field on ``stream``."""
        typ, offset = self._field(item, "DeviceRecord")
        if typ.subdtype is not None:
            return self._array_field(typ, offset)
        if typ.names is not None:
            return self._record_view(offset, stream, typ)
        host = np.empty(typ.itemsize, np.uint8)
        s = lowlevel_stream(self._stream_or_bound(stream), self.device, "DeviceRecord")
        self._field_bytes(typ, offset)._copy_to(host, s)
        return host.view(typ)[0]

    def __getitem__(self, item):
        return self.getitem(item)

    def setitem(self, key, value, stream=0):
        """``self[key] = value`` with the copy on ``stream``."""
        typ, offset = self._field(key, "DeviceRecord")
        if typ.subdtype is not None:
            self._array_field(typ, offset)._setitem(Ellipsis, value, self._stream_or_bound(stream))
            return
        try:
            host = np.asarray(value, dtype=typ)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"DeviceRecord: cannot assign {type(value).__name__} to the "
                             f"field {key!r} of dtype {typ}: {exc}") from None
        if host.shape != ():
            raise ValueError(f"DeviceRecord: the field {key!r} holds one {typ}, not an array "
                             f"of shape {host.shape}")
        data = np.ascontiguousarray(host).reshape(1).view(np.uint8)
        s = lowlevel_stream(self._stream_or_bound(stream), self.device, "DeviceRecord")
        self._field_bytes(typ, offset)._copy_from(data, s)

    def __setitem__(self, key, value):
        self.setitem(key, value)

    def copy_to_host(self, ary=None, stream=0):
        """The record as a 0-d structured array, or copied into ``ary`` (a
        0-d array, or a record np.void / np.record, filled field by field)."""
        if isinstance(ary, np.void):
            if ary.dtype != self.dtype:
                raise TypeError(f"copy_to_host: incompatible dtype: the device record is "
                                f"{self.dtype}, the host record {ary.dtype}")
            host = super().copy_to_host(stream=stream)
            for name in self.dtype.names:
                ary[name] = host[name]
            return ary
        return super().copy_to_host(ary, stream=stream)

    def __repr__(self):
        return f"<ember.cuda.DeviceRecord dtype={self.dtype} on {self.device}>"


def from_record_like(rec, stream=0, gpu_data=None):
    """An uninitialised DeviceRecord of ``rec``'s dtype."""
    return DeviceRecord(rec.dtype, stream=stream, gpu_data=gpu_data)
