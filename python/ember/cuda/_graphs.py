"""Graphs: the kernel launches and copies issued on a stream, captured into
a graph and replayed as one unit (CUDA graphs; numba.cuda has none).

    s = cuda.stream()
    with cuda.graph_capture(s) as g:      # recorded on s, nothing runs
        k1[blocks, threads, s](dx, dy)
        k2[blocks, threads, s](dy)
        dy.copy_to_host(pinned, stream=s)
    g.launch()                            # runs all three; again later
    g.launch(s)

On a GPU this is the driver's stream capture (cuStreamBeginCapture ...
cuGraphLaunch); on the CPU device ember records each launch and copy itself
and replays the record. A replay uses the arguments as captured: the same
arrays (their memory, whatever it holds by then) and the scalars' values at
capture time. While the capture is open, synchronizing the stream or the
device and default-stream work on the device are errors, as in CUDA; copies
in the graph must use device or pinned host memory.
"""

import contextlib

from .. import _ember


class Graph:
    """A captured sequence of launches and copies; ``launch()`` replays it."""

    __slots__ = ("device", "_g", "_keep", "_launched", "__weakref__")

    def __init__(self, device):
        self.device = device
        self._g = None       # the extension's graph, once the capture ended
        self._keep = []      # what captured work uses: kept alive with the graph
        self._launched = {}  # lowlevel streams (None: default) it was launched on

    def launch(self, stream=0):
        """Queue the graph's work on ``stream`` (default: the default
        stream). On the CPU device it has run when this returns."""
        from ._streams import lowlevel_stream
        if self._g is None:
            raise ValueError("Graph.launch: the capture has not ended yet (launch the graph "
                             "after the `with cuda.graph_capture(...)` block)")
        s = lowlevel_stream(stream, self.device, "Graph.launch")
        _ember.graph_launch(self._g, s)
        self._launched[s] = True

    @property
    def size(self):
        """The number of kernel launches and copies the graph holds."""
        if self._g is None:
            raise ValueError("Graph.size: the capture has not ended yet")
        return _ember.graph_size(self._g)

    def destroy(self):
        """Free the graph now (it is also freed when no longer referenced).
        Its launches still queued finish first: the memory they use is given
        back only then."""
        if self._keep and self._launched:
            for s in self._launched:
                try:
                    if s is None:
                        _ember.synchronize(self.device.kind, self.device.id)
                    else:
                        s.synchronize()
                except Exception:
                    pass  # a stream capturing now: its own rules keep the memory busy
        self._launched = {}
        if self._g is not None:
            _ember.graph_destroy(self._g)
        self._keep = []

    def __del__(self):
        try:
            self.destroy()
        except Exception:
            pass

    def __repr__(self):
        state = "capturing" if self._g is None else f"{_ember.graph_size(self._g)} operations"
        return f"<ember graph on {self.device} ({state})>"

    def __reduce__(self):
        from .._pickle import refuse
        refuse("a Graph")


# lowlevel stream -> the Graph its open capture fills
_open = {}


def keep_alive(lowlevel, *objs):
    """Holds `objs` with the graph being captured on `lowlevel` (no-op when
    that stream is not capturing): a replay must not meet freed memory."""
    g = _open.get(lowlevel)
    if g is not None:
        g._keep.append(objs)


def is_capturing(stream):
    """Whether ``stream`` (a Stream; 0/None: no) has a capture open."""
    from ._streams import Stream
    return isinstance(stream, Stream) and stream._s in _open


@contextlib.contextmanager
def graph_capture(stream):
    """``with cuda.graph_capture(stream) as g:`` records the launches and
    copies issued on ``stream`` (a stream of ``cuda.stream()``, not the
    default stream) into ``g`` instead of running them; ``g.launch()`` then
    replays them. An exception in the block ends the capture and drops it."""
    from ._streams import Stream
    if not isinstance(stream, Stream):
        raise TypeError("graph_capture: expected a Stream from cuda.stream(), not "
                        f"{type(stream).__name__}")
    g = Graph(stream.device)
    _ember.stream_begin_capture(stream._s)
    _open[stream._s] = g
    ok = False
    try:
        yield g
        ok = True
    finally:
        del _open[stream._s]
        if ok:
            g._g = _ember.stream_end_capture(stream._s)
        else:  # the block's exception is the one to see
            try:
                _ember.graph_destroy(_ember.stream_end_capture(stream._s))
            except Exception:
                pass
            g._keep = []
