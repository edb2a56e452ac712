"""Graphs (issue 15): `with cuda.graph_capture(stream) as g:` records the
kernel launches and copies issued on `stream` instead of running them, and
`g.launch()` replays them, with the arguments as captured (the same device
memory; scalars frozen at their captured values), as CUDA graphs do.

On the CPU device ember records and replays the operations itself; on a
GPU it is the driver's stream capture, checked here through the stand-in
driver (tests/fake_cuda) by the sequence of calls it receives, and on a
real GPU where there is one (the `kernel_device` tests' second run). While
a capture is open the operations CUDA refuses are refused on both devices
with a clear error."""

import numpy as np
import pytest

from ember import cuda

from test_cuda_launch_fake import run_script


@pytest.fixture
def cpu_device():
    from ember.cuda import _devices
    saved = _devices._state.key()
    _devices._state.set(("cpu", 0))
    yield
    _devices._state.set(saved)


@cuda.jit
def axpy(a, x, y):
    i = cuda.grid(1)
    if i < y.size:
        y[i] = a * x[i] + y[i]


@cuda.jit
def square(y):
    i = cuda.grid(1)
    if i < y.size:
        y[i] = y[i] * y[i]


def test_capture_records_without_running_and_replays(kernel_device):
    n = 1000
    rng = np.random.default_rng(1)
    x0, y0 = rng.random(n), rng.random(n)
    s = cuda.stream()
    dx, dy = cuda.to_device(x0), cuda.to_device(y0)
    host_in = cuda.pinned_array(n, np.float64)
    host_in[:] = x0 + 1.0
    host_out = cuda.pinned_array(n, np.float64)
    host_out[:] = -7.0
    a = 3.0
    with cuda.graph_capture(s) as g:
        dx.copy_to_device(host_in, stream=s)        # x <- x0 + 1
        axpy[(n + 127) // 128, 128, s](a, dx, dy)   # y <- a x + y
        square[(n + 127) // 128, 128, s](dy)        # y <- y * y
        dy.copy_to_host(host_out, stream=s)
    a = 100.0  # the graph keeps the captured value
    # nothing ran during the capture
    np.testing.assert_array_equal(dx.copy_to_host(), x0)
    np.testing.assert_array_equal(dy.copy_to_host(), y0)
    assert (host_out == -7.0).all()
    assert g.size == 4

    expect = y0.copy()
    for _ in range(2):
        g.launch(s)
        s.synchronize()
        expect = (3.0 * (x0 + 1.0) + expect) ** 2
        np.testing.assert_allclose(host_out, expect, rtol=1e-12)
        np.testing.assert_allclose(dy.copy_to_host(), expect, rtol=1e-12)
    # the replay copies what the pinned buffer holds at launch time
    host_in[:] = 0.0
    g.launch()  # on the default stream
    cuda.synchronize()
    expect = expect ** 2
    np.testing.assert_allclose(host_out, expect, rtol=1e-12)
    g.destroy()
    with pytest.raises(ValueError, match="destroyed"):
        g.launch()




def test_graph_holds_arrays_dropped_by_the_caller(kernel_device):
    s = cuda.stream()
    dy = cuda.to_device(np.arange(64.0))
    out = cuda.pinned_array(64, np.float64)
    with cuda.graph_capture(s) as g:
        square[1, 64, s](dy)
        dy.copy_to_host(out, stream=s)
    del dy  # the graph still holds the array
    import gc
    gc.collect()
    g.launch()
    cuda.synchronize()
    np.testing.assert_array_equal(out, np.arange(64.0) ** 2)
    g.launch()
    cuda.synchronize()
    np.testing.assert_array_equal(out, (np.arange(64.0) ** 2) ** 2)

    # a graph of copies only holds its arrays too
    src = cuda.to_device(np.arange(64.0) + 0.5)
    with cuda.graph_capture(s) as g2:
        src.copy_to_host(out, stream=s)
    del src
    gc.collect()
    others = [cuda.to_device(np.full(64, -3.0)) for _ in range(4)]  # may reuse freed memory
    out[:] = 0
    g2.launch()
    cuda.synchronize()
    np.testing.assert_array_equal(out, np.arange(64.0) + 0.5)
    assert all((o.copy_to_host() == -3.0).all() for o in others)


def _refused(fn, exc, match):
    s = cuda.stream()
    with pytest.raises(exc, match=match):
        with cuda.graph_capture(s) as g:
            fn(s)
    # the capture ended with the error: the stream works normally again
    d = cuda.to_device(np.arange(4.0))
    square[1, 4, s](d)
    s.synchronize()
    cuda.synchronize()
    np.testing.assert_array_equal(d.copy_to_host(), np.arange(4.0) ** 2)


def test_operations_cuda_refuses_during_a_capture(kernel_device):
    d = cuda.to_device(np.arange(4.0))
    square[1, 4](d)  # compiled; later launches may take the C fast path
    _refused(lambda s: s.synchronize(), ValueError, "cannot synchronize: the stream is capturing")
    _refused(lambda s: cuda.synchronize(), ValueError, "cannot synchronize the device while a "
             "graph capture is open")
    _refused(lambda s: square[1, 4](d), ValueError, "cannot launch a kernel on the default "
             f"stream of {kernel_device}:0 while a graph capture is open")
    _refused(lambda s: d.copy_to_host(), ValueError, "cannot copy on the default stream")
    _refused(lambda s: d.copy_to_host(np.zeros(4), stream=s), ValueError,
             "a copy into pageable host memory cannot be captured")
    _refused(lambda s: cuda.to_device(np.zeros(4), stream=s), ValueError,
             "a copy from pageable host memory cannot be captured")
    _refused(lambda s: square[1, 4, s](np.zeros(4)), TypeError,
             "square: a launch captured into a graph takes device arrays only")
    _refused(lambda s: cuda.event().record(s), Exception, "ember's graphs hold launches and "
             "copies only")
    np.testing.assert_array_equal(d.copy_to_host(), np.arange(4.0) ** 2)  # nothing else ran


@cuda.jit(boundscheck=True)
def checked(y):
    y[cuda.threadIdx.x] += 1.0


def test_a_kernel_that_reports_faults_is_not_captured(kernel_device):
    d = cuda.to_device(np.zeros(4))
    checked[1, 4](d)
    _refused(lambda s: checked[1, 4, s](d), ValueError, "checked: a kernel that reports "
             "faults .* which a graph capture cannot do")
    np.testing.assert_array_equal(d.copy_to_host(), np.ones(4))


@cuda.jit
def capped(y):
    i = cuda.threadIdx.x
    if y[i] > 1.5:
        raise ValueError("too big")
    y[i] += 1.0


def test_a_raise_during_a_replay_names_its_line(cpu_device):
    """On the cpu device a raise in a replayed kernel stops the replay with
    its source line and thread (a GPU kernel that can raise is not
    captured)."""
    s = cuda.stream()
    d = cuda.to_device(np.zeros(4))
    with cuda.graph_capture(s) as g:
        capped[1, 4, s](d)
    g.launch()
    g.launch()
    np.testing.assert_array_equal(d.copy_to_host(), np.full(4, 2.0))
    with pytest.raises(RuntimeError, match=r"test_graphs.py:\d+:\d+: a raise or failed assert "
                       r"in thread \(\d, 0, 0\) of block \(0, 0, 0\) stopped the kernel "
                       r"\(operation 1 of the graph\)"):
        g.launch()


def test_capture_errors(kernel_device):
    with pytest.raises(ValueError, match="needs a stream of its own"):
        with cuda.graph_capture(cuda.default_stream()):
            pass
    with pytest.raises(TypeError, match="expected a Stream"):
        with cuda.graph_capture(0):
            pass
    s = cuda.stream()
    with pytest.raises(ValueError, match="already capturing"):
        with cuda.graph_capture(s):
            with cuda.graph_capture(s):
                pass
    with cuda.graph_capture(s) as g:
        with pytest.raises(ValueError, match="the capture has not ended"):
            g.launch()
    assert g.size == 0
    g.launch()  # an empty graph runs nothing


def test_a_stream_dropped_while_capturing_drops_the_capture(cpu_device):
    from ember import _ember
    d = cuda.to_device(np.arange(4.0))
    square[1, 4](d)
    k = next(iter(square.overloads.values()))
    s = cuda.stream()
    _ember.stream_begin_capture(s._s)  # below graph_capture: nothing ends it
    k.launch((1, 1, 1), (4, 1, 1), (d,), 0, s._s)
    assert _ember.stream_is_capturing(s._s)
    del s
    square[1, 4](d)  # no capture left open on the device; the dropped one never ran
    np.testing.assert_array_equal(d.copy_to_host(), (np.arange(4.0) ** 2) ** 2)


def test_fake_driver_call_sequence(fake_cuda_lib, nvvm, tmp_path):
    """On a GPU the capture is the driver's: begin, the launches and copies
    queued on the stream (captured, not run), end and instantiate; each
    launch of the graph replays them on the stream it is given."""
    script = tmp_path / "graph.py"
    script.write_text(r'''
import ctypes, os
import numpy as np
from ember import cuda
fake = ctypes.CDLL(os.environ["EMBER_CUDA_DRIVER"])
fake.fake_cuda_log_text.restype = ctypes.c_long
def log():
    buf = ctypes.create_string_buffer(1 << 16)
    fake.fake_cuda_log_text(buf, ctypes.c_size_t(1 << 16))
    return buf.value.decode().splitlines()
cuda.select_device(0)

@cuda.jit
def add(x, n):
    i = cuda.grid(1)
    if i < x.size:
        x[i] += n

s = cuda.stream()
dx = cuda.to_device(np.arange(4.0))
pin = cuda.pinned_array(4, np.float64)
pin[:] = [5, 6, 7, 8]
out = cuda.pinned_array(4, np.float64)
out[:] = -1
add[1, 32, s](dx, 1.0)
s.synchronize()
fake.fake_cuda_log(1)
with cuda.graph_capture(s) as g:
    dx.copy_to_device(pin, stream=s)
    add[1, 32, s](dx, 2.0)
    add[1, 32, s](dx, 3.0)
    dx.copy_to_host(out, stream=s)
print("DURING", out.tolist(), g.size, fake.fake_cuda_live(b"graphexec"), fake.fake_cuda_live(b"graph"))
g.launch(s)
print("AFTER", out.tolist())
g.launch()
print("LOG", log())
for what, fn in [("sync", lambda: s.synchronize()),
                 ("default", lambda: add[1, 32](dx, 1.0)),
                 ("pageable", lambda: dx.copy_to_host(np.zeros(4), stream=s))]:
    try:
        with cuda.graph_capture(s):
            fn()
    except ValueError as e:
        print("REFUSED", what, e)
g.destroy()
print("LIVE", fake.fake_cuda_live(b"graphexec"), fake.fake_cuda_live(b"graph"))
''')
    out = run_script(script, {"EMBER_CUDA_DRIVER": fake_cuda_lib, "FAKE_CUDA_DEVICES": "1"})
    lines = {l.split(" ", 1)[0]: l.split(" ", 1)[1] for l in out.strip().splitlines()}
    # captured, not run; instantiated once, the CUgraph itself released
    assert lines["DURING"] == "[-1.0, -1.0, -1.0, -1.0] 4 1 0"
    # the fake runs no kernels: the replayed copies show the order (pinned in, out)
    assert lines["AFTER"] == "[5.0, 6.0, 7.0, 8.0]"
    log = eval(lines["LOG"])
    assert log == ["begin_capture 1", "capture htod 1 32", "capture launch 1",
                   "capture launch 1", "capture dtoh 1 32", "end_capture 1 4",
                   "graph_launch 1 4", "htod 1 32 pinned", "launch 1", "launch 1",
                   "dtoh 1 32 pinned",
                   "graph_launch 0 4", "htod 0 32 pinned", "launch 0", "launch 0",
                   "dtoh 0 32 pinned"], log
    assert "REFUSED sync Stream.synchronize: cannot synchronize: the stream is capturing" in out
    assert ("REFUSED default launching 'ember_add_") in out
    assert ("cannot launch a kernel on the default stream of cuda:0 while a graph capture is "
            "open") in out
    assert "REFUSED pageable copy: a copy into pageable host memory cannot be captured" in out
    assert lines["LIVE"] == "0 0"
