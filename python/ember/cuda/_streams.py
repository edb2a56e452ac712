"""Streams and events (numba.cuda names): ordered queues of work on a device
and markers in them that can be waited on and timed.

On the CPU device a stream runs each operation as it is submitted (in order),
and an event records the time it was reached.
"""

import contextlib

from .. import _ember
from ._devices import get_current_device


class Stream:
    """An in-order queue of copies and kernel launches on one device."""

    __slots__ = ("_s", "device")

    def __init__(self, lowlevel, dev):
        self._s = lowlevel
        self.device = dev

    @property
    def handle(self):
        """The driver's stream handle as an int (0 for the default stream)."""
        return self._s.handle

    def __int__(self):
        return self._s.handle

    def __cuda_stream__(self):
        """(version, CUstream handle): the CUDA stream protocol, for CuPy,
        PyTorch and cuda.core to use this stream (a CUDA device's only)."""
        if self.device.kind != "cuda":
            raise AttributeError("__cuda_stream__: the cpu device has no CUDA streams")
        return (0, self._s.native_handle)

    def synchronize(self):
        """Wait until all work queued on this stream has finished."""
        self._s.synchronize()

    def query(self):
        """True when all work queued on this stream has finished."""
        return self._s.query()

    @contextlib.contextmanager
    def auto_synchronize(self):
        """``with stream.auto_synchronize():`` synchronizes the stream on exit."""
        yield self
        self.synchronize()

    def __repr__(self):
        what = "default stream" if self._s.is_default else f"stream 0x{self.handle:x}"
        return f"<ember {what} on {self.device.kind}:{self.device.id}>"

    def __reduce__(self):
        from .._pickle import refuse
        refuse("a Stream")


def stream():
    """A new stream on the current device."""
    dev = get_current_device()
    return Stream(_ember.Stream(dev.kind, dev.id), dev)


def default_stream():
    """The current device's default stream."""
    dev = get_current_device()
    return Stream(_ember.Stream.default(dev.kind, dev.id), dev)


def external_stream(ptr):
    """A Stream over a CUDA stream created elsewhere (CuPy's, PyTorch's: the
    CUstream handle as an int). ember queues work on it and never destroys
    it; keep its owner alive while ember uses it. On the CPU device only 0
    (the default stream) is accepted."""
    dev = get_current_device()
    if not isinstance(ptr, int) or isinstance(ptr, bool) or ptr < 0:
        raise TypeError(f"external_stream: expected a CUstream handle as an int, got {ptr!r}")
    if dev.kind != "cuda" and ptr:
        raise ValueError(f"external_stream(0x{ptr:x}): the current device is the cpu device, "
                         "which has no CUDA streams")
    return Stream(_ember.Stream.wrap(dev.kind, dev.id, ptr), dev)


def _from_protocol(obj, dev, what):
    """The Stream of an object with ``__cuda_stream__`` (CuPy, PyTorch,
    cuda.core streams)."""
    try:
        version, handle = obj.__cuda_stream__()
    except Exception as exc:
        raise TypeError(f"{what}: {type(obj).__name__}.__cuda_stream__() failed: {exc}") from None
    if version != 0:
        raise TypeError(f"{what}: __cuda_stream__ version {version} (ember reads version 0)")
    if dev.kind != "cuda" and handle:
        raise ValueError(f"{what}: a CUDA stream was given but the work is on the cpu device")
    return _ember.Stream.wrap(dev.kind, dev.id, int(handle))


def stream_of_protocol(obj, what):
    """A Stream of the current device over an object's ``__cuda_stream__``."""
    dev = get_current_device()
    return Stream(_from_protocol(obj, dev, what), dev)


legacy_default_stream = default_stream
per_thread_default_stream = default_stream


def lowlevel_stream(stream, dev, what):
    """The extension's stream for a user's ``stream`` argument (0/None: default).

    The stream must belong to ``dev``."""
    if stream is None or (isinstance(stream, int) and not isinstance(stream, bool) and stream == 0):
        return None
    if not isinstance(stream, Stream):
        if hasattr(stream, "__cuda_stream__"):
            return _from_protocol(stream, dev, what)
        raise TypeError(f"{what}: stream must be a Stream from cuda.stream() or 0, "
                        f"not {type(stream).__name__}")
    if stream.device.key != dev.key:
        raise ValueError(f"{what}: the stream is on {stream.device} but the array is on {dev}")
    return stream._s


class Event:
    """A marker recorded in a stream; with timing, elapsed time between two."""

    __slots__ = ("_e", "device", "timing")

    def __init__(self, timing=True):
        self.device = get_current_device()
        self.timing = bool(timing)
        self._e = _ember.Event(self.device.kind, self.device.id, self.timing)

    def record(self, stream=0):
        self._e.record(lowlevel_stream(stream, self.device, "Event.record"))

    def synchronize(self):
        self._e.synchronize()

    def __reduce__(self):
        from .._pickle import refuse
        refuse("an Event")

    def wait(self, stream=0):
        """Make ``stream`` wait for this event before running later work."""
        self._e.wait(lowlevel_stream(stream, self.device, "Event.wait"))

    def query(self):
        return self._e.query()

    def elapsed_time(self, evtend):
        """Milliseconds from this event to ``evtend``."""
        if not isinstance(evtend, Event):
            raise TypeError(f"elapsed_time: expected an Event, not {type(evtend).__name__}")
        return self._e.elapsed_time(evtend._e)

    def __repr__(self):
        return f"<ember event on {self.device}>"


def event(timing=True):
    """A new event on the current device."""
    return Event(timing)


def event_elapsed_time(evtstart, evtend):
    return evtstart.elapsed_time(evtend)
