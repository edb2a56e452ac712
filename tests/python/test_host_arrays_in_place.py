"""Host NumPy arrays on the CPU device: used in place (0 bytes moved) with
the copying launch's results (python/ember/cuda/_inplace.py). Each case is
checked against what copy semantics give, computed with NumPy, and the
bytes moved are read from ember.runtime.stats()."""

import numpy as np
import pytest

from ember import cuda, guvectorize, runtime, vectorize
from ember.errors import TypingError


@pytest.fixture(autouse=True)
def on_cpu(cpu_device):
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(20261206)


def moved(launch):
    """(bytes host->device, bytes device->host) of one call of `launch`."""
    runtime.reset_stats()
    launch()
    s = runtime.stats()
    return s["htod_bytes"], s["dtoh_bytes"]


@cuda.jit
def saxpy(a, x, y, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = a * x[i] + y[i]


@cuda.jit
def shift_left(x, out):
    """out[i] = x[i + 1]: with x and out the same memory, copy semantics
    read every x before any write."""
    i = cuda.grid(1)
    if i < out.size - 1:
        out[i] = x[i + 1] * 10


@cuda.jit
def write_both(a, b):
    i = cuda.grid(1)
    if i < a.size:
        a[i] = i + 100
    if i < b.size:
        b[i] = -i


@cuda.jit
def sum_pairs(t, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = t[0][i] + t[1][i]


def test_saxpy_moves_nothing(rng):
    n = 10_000
    x, y, out = rng.standard_normal(n), rng.standard_normal(n), np.zeros(n)
    saxpy[40, 256](2.0, x, y, out)
    assert moved(lambda: saxpy[40, 256](3.0, x, y, out)) == (0, 0)
    np.testing.assert_array_equal(out, 3.0 * x + y)


def test_read_and_written_views_of_one_array(rng):
    """The written argument overlaps the read one: it is copied (in and back),
    the read one stays in place; the result is copy semantics'. The second
    launch finds the kernel in the C fast path's cache, which sees the
    overlap and sends the launch back to the copying path."""
    for _ in range(2):
        a = rng.standard_normal(1000)
        expect = a.copy()
        expect[:-1] = a[1:] * 10
        n = a.nbytes
        assert moved(lambda: shift_left[4, 256](a, a)) == (n, n)
        np.testing.assert_array_equal(a, expect)
    b, c = rng.standard_normal(1000), np.zeros(1000)   # disjoint: in place, from C
    assert moved(lambda: shift_left[4, 256](b, c)) == (0, 0)
    np.testing.assert_array_equal(c[:-1], b[1:] * 10)


def test_read_only_host_array_is_its_own_specialisation(rng):
    x, y = rng.standard_normal(100), rng.standard_normal(100)
    out = np.zeros(100)
    for ro in (False, True, False, True):
        x.flags.writeable = not ro
        assert moved(lambda: saxpy[1, 128](2.0, x, y, out)) == (0, 0)
        np.testing.assert_array_equal(out, 2.0 * x + y)
        out[:] = 0


def test_two_written_overlapping_arrays_keep_copy_semantics():
    """Both arguments written and overlapping: each is a snapshot copied
    back in argument order, as before."""
    base = np.zeros(12)
    a, b = base[:8], base[4:]
    expect = base.copy()
    ea, eb = expect[:8].copy(), expect[4:].copy()
    ea[:] = np.arange(8) + 100
    eb[:] = -np.arange(8)
    expect[:8] = ea          # a copied back first,
    expect[4:] = eb          # then b over it
    assert moved(lambda: write_both[1, 32](a, b)) == (2 * 64, 2 * 64)
    np.testing.assert_array_equal(base, expect)


def test_disjoint_written_arrays_in_place():
    a, b = np.zeros(10), np.zeros(7)
    assert moved(lambda: write_both[1, 32](a, b)) == (0, 0)
    np.testing.assert_array_equal(a, np.arange(10) + 100)
    np.testing.assert_array_equal(b, -np.arange(7))


def test_arrays_in_tuples_in_place(rng):
    x, y, out = rng.standard_normal(300), rng.standard_normal(300), np.zeros(300)
    sum_pairs[2, 256]((x, y), out)
    assert moved(lambda: sum_pairs[2, 256]((x, y), out)) == (0, 0)
    np.testing.assert_array_equal(out, x + y)


def test_read_only_array_written_is_still_an_error():
    x = np.zeros(10)
    x.flags.writeable = False
    with pytest.raises(TypingError, match="read-only|readonly"):
        write_both[1, 32](x, np.zeros(10))


def test_non_native_byte_order_is_refused_as_before(rng):
    x = rng.standard_normal(500).astype(">f8")
    y, out = rng.standard_normal(500), np.zeros(500)
    with pytest.raises(TypeError, match="not in the machine's byte order"):
        saxpy[2, 256](2.0, x, y, out)


def test_misaligned_array_is_copied(rng):
    raw = np.zeros(8 * 101, np.uint8)
    x = raw[1:1 + 800].view(np.float64)          # data at an odd address
    assert not x.flags.aligned
    x[:] = rng.standard_normal(100)
    y, out = rng.standard_normal(100), np.zeros(100)
    hin, hout = moved(lambda: saxpy[1, 128](2.0, x, y, out))
    assert hin == x.nbytes and hout == 0
    np.testing.assert_array_equal(out, 2.0 * x + y)


def test_strided_output_is_copied_and_written_back(rng):
    x, y = rng.standard_normal(200), rng.standard_normal(200)
    base = np.full((200, 2), -1.0)
    out = base[:, 0]
    hin, hout = moved(lambda: saxpy[1, 256](2.0, x, y, out))
    assert hin == out.nbytes and hout == out.nbytes
    np.testing.assert_array_equal(base[:, 0], 2.0 * x + y)
    np.testing.assert_array_equal(base[:, 1], -1.0)


def test_stream_launch_finishes_before_it_returns(rng):
    """On the CPU device a launch on a stream with host arrays has finished
    when the call returns: a host write after it is never seen by it."""
    s = cuda.stream()
    x, y, out = rng.standard_normal(5000), rng.standard_normal(5000), np.zeros(5000)
    expect = 2.0 * x + y
    saxpy[20, 256, s](2.0, x, y, out)
    x[:] = 0
    s.synchronize()
    np.testing.assert_array_equal(out, expect)


@vectorize(["float32(float32, float32)", "float64(float64, float64)"], target="cuda")
def gauss(x, sigma):
    return np.exp(-0.5 * (x / sigma) ** 2) / sigma


def test_cuda_ufunc_moves_nothing(rng):
    x = rng.standard_normal(100_000).astype(np.float32)
    sigma = np.full_like(x, 1.5)
    gauss(x, sigma)
    r = None

    def call():
        nonlocal r
        r = gauss(x, sigma)
    assert moved(call) == (0, 0)
    assert isinstance(r, np.ndarray) and r.dtype == np.float32
    xs, ss = x.astype(np.float64), sigma.astype(np.float64)
    np.testing.assert_allclose(r, np.exp(-0.5 * (xs / ss) ** 2) / ss, rtol=1e-6)


def test_cuda_ufunc_casts_and_broadcasts_on_the_host(rng):
    x = rng.integers(-3, 3, size=(40, 30))       # int64 -> the float64 loop
    r = None

    def call():
        nonlocal r
        r = gauss(x, 2.0)                        # a scalar, broadcast
    assert moved(call) == (0, 0)
    np.testing.assert_allclose(r, np.exp(-0.5 * (x / 2.0) ** 2) / 2.0, rtol=1e-12)
    assert r.shape == (40, 30)
    assert gauss(1.0, 2.0) == pytest.approx(np.exp(-0.125) / 2.0)


@guvectorize(["void(float64[:], float64[:], float64[:])"], "(n),(n)->(n)", target="cuda")
def add_rows(a, b, out):
    for i in range(a.shape[0]):
        out[i] = a[i] + b[i]


@guvectorize(["void(float64[:], float64[:])"], "(n)->(n)", target="cuda")
def reverse_row(a, out):
    n = a.shape[0]
    for i in range(n):
        out[i] = a[n - 1 - i]


def test_cuda_gufunc_writes_a_given_host_output(rng):
    a, b = rng.standard_normal((5, 7)), rng.standard_normal((5, 7))
    o = np.zeros((5, 7))
    assert add_rows(a, b, out=o) is o
    np.testing.assert_array_equal(o, a + b)
    assert moved(lambda: add_rows(a, b, out=o)) == (0, 0)
    f = np.zeros((5, 7), np.float32)             # cast into, as NumPy's same_kind
    add_rows(a, b, out=f)
    np.testing.assert_array_equal(f, (a + b).astype(np.float32))
    strided = np.zeros((5, 14))[:, ::2]          # a non-contiguous output
    add_rows(a, b, out=strided)
    np.testing.assert_array_equal(strided, a + b)


def test_cuda_gufunc_output_overlapping_its_input(rng):
    """out= the input itself: NumPy reads a snapshot of the input."""
    a = rng.standard_normal((4, 9))
    expect = a[:, ::-1].copy()
    reverse_row(a, out=a)
    np.testing.assert_array_equal(a, expect)


def test_cuda_gufunc_refuses_a_read_only_output(rng):
    a = rng.standard_normal((2, 3))
    o = np.zeros((2, 3))
    o.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        add_rows(a, a, out=o)


def test_cuda_ufunc_host_path_equals_the_kernel_path(rng):
    """Host operands on the CPU device go through the CPU ufunc of the same
    loop; device operands through the kernel: the same numbers."""
    x = rng.standard_normal(10_001).astype(np.float32)
    s = np.full_like(x, 0.7)
    host = gauss(x, s)
    dev = gauss(cuda.to_device(x), cuda.to_device(s)).copy_to_host()
    np.testing.assert_array_equal(host, dev)
    assert gauss(x[:3].astype(np.int16), 1.0).dtype == np.float64   # the loop ember picks
