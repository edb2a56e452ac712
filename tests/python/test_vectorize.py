"""ember.vectorize and ember.guvectorize (python/ember/_ufunc.py,
python/ext/ufunc.c): NumPy ufuncs and gufuncs for the cpu, parallel and
cuda targets. Every result is compared with NumPy (or plain Python)
computed independently; the cuda target runs on the cpu device here (the
`gpu`-marked tests run it on a real GPU)."""

import math
import warnings

import numpy as np
import pytest

import ember
from ember import cuda, guvectorize, vectorize
from ember.errors import EmberWarning, TypingError, UnsupportedError

SQRT_2PI = np.float32((2 * math.pi) ** 0.5)
RNG = np.random.default_rng(7)


def gaussian_ref(x, mean, sigma):
    x, mean, sigma = (np.asarray(v, np.float64) for v in (x, mean, sigma))
    return np.exp(-0.5 * ((x - mean) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))


@pytest.fixture
def quiet_cuda_fallback():
    """The cuda target's one warning (no GPU here) is checked in its own
    test; the other tests keep it out of their output."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmberWarning)
        yield


# ---- seed 5: no signatures, compiled per input types ---------------------------

def test_dynamic_add_1d_and_broadcast_like_np_add():
    @vectorize
    def add(a, b):
        return a + b

    assert isinstance(add, ember._ufunc.DUFunc) and add.ufunc is None
    a, b = np.arange(10), np.arange(10, 20)
    np.testing.assert_array_equal(add(a, b), np.add(a, b))
    assert add.types == ["ll->l"]
    x = RNG.random(4)
    m = RNG.random((3, 4))
    got = add(x, m)
    assert got.shape == (3, 4) and got.dtype == np.float64
    np.testing.assert_array_equal(got, np.add(x, m))
    assert add.types == ["ll->l", "dd->d"] and isinstance(add.ufunc, np.ufunc)
    # int32 inputs use the int64 loop by NumPy's safe casting (numba's DUFunc)
    assert add(np.int32(3), np.int32(4)) == 7 and add.ntypes == 2
    # float32 inputs too take the float64 loop NumPy finds first
    f32 = add(np.ones(3, np.float32), np.float32(2))
    assert f32.dtype == np.float64 and add.ntypes == 2
    np.testing.assert_array_equal(f32, [3, 3, 3])
    # complex inputs cast to no loop: a new one is compiled
    c = add(np.array([1 + 2j]), np.array([3 - 1j]))
    assert c.dtype == np.complex128 and add.ntypes == 3 and c[0] == 4 + 1j


def test_dynamic_methods_compile_what_they_need():
    @vectorize
    def mul(a, b):
        return a * b

    a = np.arange(1, 7, dtype=np.float64)
    assert mul.reduce(a) == np.multiply.reduce(a)
    np.testing.assert_array_equal(mul.accumulate(a), np.multiply.accumulate(a))
    np.testing.assert_array_equal(mul.outer(a[:3], a[:4]), np.multiply.outer(a[:3], a[:4]))
    ints = np.arange(1, 5)
    assert mul.reduce(ints) == 24
    mul.disable_compile()
    with pytest.raises(TypeError, match="not supported for the input types"):
        mul(np.ones(2, np.complex64), np.ones(2, np.complex64))


def test_dufunc_add_signature_and_frozen_types():
    @vectorize
    def sub(a, b):
        return a - b

    sub.add("float32(float32, float32)")
    assert sub.types == ["ff->f"]
    r = sub(np.float32([5, 6]), np.float32([1, 2]))
    assert r.dtype == np.float32
    np.testing.assert_array_equal(r, [4, 4])


# ---- eager signatures: a genuine numpy.ufunc -----------------------------------

@pytest.fixture(scope="module")
def eager_add():
    @vectorize(["int64(int64, int64)", "float32(float32, float32)",
                "float64(float64, float64)"])
    def add(a, b):
        return a + b
    return add


def test_eager_is_a_numpy_ufunc(eager_add):
    assert isinstance(eager_add, np.ufunc)
    assert eager_add.types == ["ll->l", "ff->f", "dd->d"]
    assert eager_add.nin == 2 and eager_add.nout == 1 and eager_add.__name__ == "add"


def test_eager_out_casting_and_strides(eager_add):
    a = np.arange(12)
    b = np.arange(12)[::-1].copy()
    out = np.zeros(12, np.int64)
    r = eager_add(a, b, out=out)
    assert r is out
    np.testing.assert_array_equal(out, a + b)
    # strided operands (the non-contiguous loop)
    np.testing.assert_array_equal(eager_add(a[::3], b[1::3]), a[::3] + b[1::3])
    m = np.arange(20.0).reshape(4, 5)
    np.testing.assert_array_equal(eager_add(m.T, m.T), m.T + m.T)
    # int16 inputs cast to the int64 loop; float32 + float32 stays float32
    r16 = eager_add(np.int16([1, 2]), np.int16([3, 4]))
    assert r16.dtype == np.int64 and list(r16) == [4, 6]
    assert eager_add(np.float32([1.5]), np.float32([2.25])).dtype == np.float32
    # no loop for complex inputs, and an unsafe out= cast: NumPy's errors
    with pytest.raises(TypeError):
        eager_add(np.ones(2, np.complex128), np.ones(2, np.complex128))
    with pytest.raises(TypeError):
        eager_add(np.ones(2), np.ones(2), out=np.zeros(2, np.int64))
    r = eager_add(np.ones(2), np.ones(2), out=np.zeros(2, np.int64), casting="unsafe")
    np.testing.assert_array_equal(r, [2, 2])


def test_eager_reduce_accumulate_outer(eager_add):
    a = RNG.integers(-50, 50, size=37)
    assert eager_add.reduce(a) == a.sum()
    np.testing.assert_array_equal(eager_add.accumulate(a), np.cumsum(a))
    m = RNG.random((5, 6))
    np.testing.assert_allclose(eager_add.reduce(m, axis=1), m.sum(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(eager_add.outer(a[:4], a[4:9]), np.add.outer(a[:4], a[4:9]))


def test_identity_makes_empty_reductions_work():
    @vectorize(["float64(float64, float64)"], identity=0)
    def plus(a, b):
        return a + b

    assert plus.identity == 0 and plus.reduce(np.zeros(0)) == 0.0


def test_return_type_is_cast_to_the_declared_one():
    @vectorize(["int32(float64)"])
    def trunc_half(x):
        return x / 2

    r = trunc_half(np.array([3.0, 7.0, -5.0]))
    assert r.dtype == np.int32
    np.testing.assert_array_equal(r, [1, 3, -2])


def test_missing_return_type_is_inferred():
    @vectorize(["(float32, float32)"])
    def hyp(a, b):
        return math.sqrt(a * a + b * b)

    assert hyp.types == ["ff->f"]
    np.testing.assert_allclose(hyp(np.float32([3, 5]), np.float32([4, 12])), [5, 13])


# ---- seed 7: the gaussian density ------------------------------------------------

@pytest.mark.parametrize("target", ["cpu", "parallel", "cuda"])
def test_gaussian_pdf_float32(target, quiet_cuda_fallback):
    @vectorize(["float32(float32, float32, float32)"], target=target)
    def gaussian_pdf(x, mean, sigma):
        return math.exp(-0.5 * ((x - mean) / sigma) ** 2) / (sigma * SQRT_2PI)

    x = RNG.standard_normal(1_000_000).astype(np.float32)
    got = gaussian_pdf(x, np.float32(0.5), np.float32(1.5))
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_allclose(got, gaussian_ref(x, 0.5, 1.5), rtol=1e-5, atol=1e-7)


def test_parallel_equals_cpu_on_strided_and_broadcast_operands():
    def poly(x, y):
        return 3 * x * x - 2 * x * y + y

    cpu = vectorize(["float64(float64, float64)", "int64(int64, int64)"])(poly)
    par = vectorize(["float64(float64, float64)", "int64(int64, int64)"],
                    target="parallel")(poly)
    x = RNG.random((300, 700))
    y = RNG.random(700)
    np.testing.assert_array_equal(par(x, y), cpu(x, y))
    np.testing.assert_allclose(par(x, y), 3 * x * x - 2 * x * y + y, rtol=1e-13)
    xi = RNG.integers(-1000, 1000, size=200_000)
    yi = RNG.integers(-1000, 1000, size=200_000)
    np.testing.assert_array_equal(par(xi[::2], yi[1::2]),
                                  3 * xi[::2] ** 2 - 2 * xi[::2] * yi[1::2] + yi[1::2])


def _fold(f, values):
    acc = int(values[0])
    for v in values[1:]:
        acc = f(acc, int(v))
    return acc


def test_parallel_reduce_equals_python_fold():
    @vectorize(["int64(int64, int64)"], target="parallel")
    def absmax(a, b):
        return max(abs(a), abs(b))

    v = RNG.integers(-10**6, 10**6, size=50_000)
    assert absmax.reduce(v) == _fold(lambda a, b: max(abs(a), abs(b)), v)


# ---- seeds 6 and 8: target='cuda' ---------------------------------------------

def test_cuda_int64_add_and_the_single_cpu_fallback_warning():
    from ember import _ufunc
    from ember.cuda import _devices

    @vectorize(["int64(int64, int64)"], target="cuda")
    def add(a, b):
        return a + b

    a, b = np.arange(100), np.arange(100, 200)
    saved = _ufunc._cpu_fallback_said
    _ufunc._cpu_fallback_said = False
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            r1 = add(a, b)
            r2 = add(a[:10], 5)
    finally:
        _ufunc._cpu_fallback_said = saved or _ufunc._cpu_fallback_said
    np.testing.assert_array_equal(r1, a + b)
    np.testing.assert_array_equal(r2, a[:10] + 5)
    r3 = add(7, 8)
    assert np.ndim(r3) == 0 and r3 == 15
    assert add(np.zeros(0, np.int64), 1).shape == (0,)
    ours = [w for w in seen if issubclass(w.category, EmberWarning)]
    if _devices.get_current_device().kind == "cpu":
        assert len(ours) == 1 and "cpu device" in str(ours[0].message)
        assert ours[0].filename == __file__  # points at the caller's line
    else:
        assert not ours


def test_cuda_device_arrays_stay_on_the_device(quiet_cuda_fallback):
    @vectorize(["float64(float64, float64)"], target="cuda")
    def scaled_sum(a, b):
        return 2 * a + b

    x, y = RNG.random((6, 7)), RNG.random((6, 7))
    dx, dy = cuda.to_device(x), cuda.to_device(y)
    d = scaled_sum(dx, dy)
    assert isinstance(d, cuda.DeviceNDArray) and d.shape == (6, 7)
    np.testing.assert_allclose(d.copy_to_host(), 2 * x + y, rtol=1e-15)
    out = cuda.device_array((6, 7), dtype=np.float64)
    stream = cuda.stream()
    assert scaled_sum(dx, y, out=out, stream=stream) is out
    stream.synchronize()
    np.testing.assert_allclose(out.copy_to_host(), 2 * x + y, rtol=1e-15)
    # host inputs broadcast; int inputs cast to the float64 loop
    np.testing.assert_allclose(scaled_sum(np.arange(7), y), 2 * np.arange(7) + y)
    with pytest.raises(ValueError, match="broadcast shape"):
        scaled_sum(dx, cuda.to_device(y[0]))
    with pytest.raises(TypeError, match="not cast"):
        scaled_sum(dx, cuda.to_device(y.astype(np.float32)))
    with pytest.raises(TypeError, match="no loop"):
        scaled_sum(np.ones(2, np.complex128), 1.0)


def test_cuda_polar_distance_calls_a_device_function(quiet_cuda_fallback):
    @cuda.jit(device=True)
    def polar_to_cartesian(rho, theta):
        return rho * math.cos(theta), rho * math.sin(theta)

    @vectorize(["float64(float64, float64, float64, float64)"], target="cuda")
    def polar_distance(rho1, theta1, rho2, theta2):
        x1, y1 = polar_to_cartesian(rho1, theta1)
        x2, y2 = polar_to_cartesian(rho2, theta2)
        return math.sqrt((x1 - x2) ** 2 + (y1 - y2) ** 2)

    n = 10_000
    r1, r2 = RNG.random(n), RNG.random(n)
    t1, t2 = RNG.random(n) * 2 * np.pi, RNG.random(n) * 2 * np.pi
    got = polar_distance(r1, t1, r2, t2)
    ref = np.hypot(r1 * np.cos(t1) - r2 * np.cos(t2), r1 * np.sin(t1) - r2 * np.sin(t2))
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)


def test_cuda_dynamic_and_reduce(quiet_cuda_fallback):
    @vectorize(target="cuda")
    def mx(a, b):
        return a if a > b else b

    v = RNG.integers(-1000, 1000, size=1001)
    np.testing.assert_array_equal(mx(v[:-1], v[1:]), np.maximum(v[:-1], v[1:]))
    for n in (1, 2, 3, 10, 1001):
        assert mx.reduce(v[:n]) == v[:n].max()
    assert mx.reduce(cuda.to_device(v)) == v.max()


@pytest.mark.gpu
def test_cuda_target_runs_on_the_gpu():
    @vectorize(["float32(float32, float32, float32)"], target="cuda")
    def gaussian_pdf(x, mean, sigma):
        return math.exp(-0.5 * ((x - mean) / sigma) ** 2) / (sigma * SQRT_2PI)

    x = RNG.standard_normal(100_000).astype(np.float32)
    dx = cuda.to_device(x)
    d = gaussian_pdf(dx, cuda.to_device(np.zeros_like(x)), cuda.to_device(np.ones_like(x)))
    assert d.device.kind == "cuda"
    np.testing.assert_allclose(d.copy_to_host(), gaussian_ref(x, 0, 1), rtol=1e-5, atol=1e-7)


# ---- guvectorize -------------------------------------------------------------------

def dot_core(a, b, res):
    acc = 0.0
    for i in range(a.shape[0]):
        acc += a[i] * b[i]
    res[0] = acc


def matmul_core(A, B, C):
    for i in range(A.shape[0]):
        for j in range(B.shape[1]):
            acc = 0.0
            for k in range(A.shape[1]):
                acc += A[i, k] * B[k, j]
            C[i, j] = acc


@pytest.mark.parametrize("target", ["cpu", "parallel", "cuda"])
def test_guvectorize_dot(target, quiet_cuda_fallback):
    dot = guvectorize(["void(float64[:], float64[:], float64[:])",
                       "void(float32[:], float32[:], float32[:])"],
                      "(n),(n)->()", target=target)(dot_core)
    if target != "cuda":
        assert isinstance(dot, np.ufunc) and dot.signature == "(n),(n)->()"
    x, y = RNG.random((40, 9)), RNG.random((40, 9))
    np.testing.assert_allclose(dot(x, y), np.einsum("ij,ij->i", x, y), rtol=1e-13)
    # broadcasting the outer dimensions: one vector against many
    np.testing.assert_allclose(dot(x, y[0]), x @ y[0], rtol=1e-13)
    r = dot(x[0], y[0])
    assert np.ndim(r) == 0 and abs(float(r) - x[0] @ y[0]) < 1e-12
    r32 = dot(x.astype(np.float32), y.astype(np.float32))
    assert r32.dtype == np.float32
    np.testing.assert_allclose(r32, np.einsum("ij,ij->i", x, y), rtol=1e-5)


@pytest.mark.parametrize("target", ["cpu", "parallel", "cuda"])
def test_guvectorize_matmul(target, quiet_cuda_fallback):
    matmul = guvectorize(["void(float64[:,:], float64[:,:], float64[:,:])"],
                         "(m,n),(n,p)->(m,p)", target=target)(matmul_core)
    A, B = RNG.random((33, 4, 5)), RNG.random((33, 5, 3))
    np.testing.assert_allclose(matmul(A, B), A @ B, rtol=1e-13)
    np.testing.assert_allclose(matmul(A[0], B[0]), A[0] @ B[0], rtol=1e-13)
    if target != "cuda":
        # non-contiguous core operands and out=
        At = np.ascontiguousarray(A.transpose(0, 2, 1)).transpose(0, 2, 1)
        out = np.zeros((33, 4, 3))
        assert matmul(At, B, out=out) is out
        np.testing.assert_allclose(out, A @ B, rtol=1e-13)
        with pytest.raises(ValueError):
            matmul(A, B[:, :4])  # core dimension n mismatch: NumPy's error


def test_guvectorize_scalar_input_and_two_outputs():
    @guvectorize(["void(float64[:], float64, float64[:], float64[:])"], "(n),()->(n),()")
    def shift_and_total(a, s, out, total):
        t = 0.0
        for i in range(a.shape[0]):
            out[i] = a[i] + s
            t += out[i]
        total[0] = t

    a = RNG.random((5, 8))
    s = RNG.random(5)
    out, total = shift_and_total(a, s)
    np.testing.assert_allclose(out, a + s[:, None], rtol=1e-15)
    np.testing.assert_allclose(total, (a + s[:, None]).sum(axis=1), rtol=1e-13)


def test_guvectorize_parallel_equals_cpu():
    cpu = guvectorize(["void(float64[:], float64[:], float64[:])"], "(n),(n)->()")(dot_core)
    par = guvectorize(["void(float64[:], float64[:], float64[:])"], "(n),(n)->()",
                      target="parallel")(dot_core)
    x, y = RNG.random((5000, 17)), RNG.random((5000, 17))
    np.testing.assert_array_equal(par(x, y), cpu(x, y))


# ---- errors -------------------------------------------------------------------------

def test_bad_signature_string():
    with pytest.raises(TypeError, match=r"vectorize: bad signature 'int64\(int64,'"):
        vectorize(["int64(int64,"])
    with pytest.raises(TypeError, match="returns one number"):
        vectorize(["float32[:](float32)"])(lambda x: x)
    with pytest.raises(TypeError, match="has 2 arguments, but lambda_free_square takes 1"):
        vectorize(["int64(int64, int64)"])(lambda_free_square)


def test_layout_mismatch():
    sig = ["void(float64[:], float64[:], float64[:])"]
    with pytest.raises(ValueError, match="has 2 operands .* 3 arguments"):
        guvectorize(sig, "(n)->()")(dot_core)
    with pytest.raises(ValueError, match=r"needs 2-d"):
        guvectorize(sig, "(n,m),(n)->()")(dot_core)
    with pytest.raises(ValueError, match="bad layout"):
        guvectorize(sig, "(n)(n)->")
    with pytest.raises(TypeError, match="layout is missing"):
        guvectorize(sig)
    with pytest.raises(TypeError, match="needs the signatures"):
        guvectorize([], "(n),(n)->()")


def test_function_that_does_not_type_names_file_and_line():
    def uses_undefined(a, b):
        return a + not_defined_anywhere  # noqa: F821

    line = uses_undefined.__code__.co_firstlineno + 1
    for target in ("cpu", "parallel", "cuda"):
        with pytest.raises(TypingError) as info:
            vectorize(["float64(float64, float64)"], target=target)(uses_undefined)
        msg = str(info.value)
        assert f"{__file__}:{line}:" in msg and "not_defined_anywhere" in msg
    dyn = vectorize(uses_undefined)
    with pytest.raises(TypingError, match=f"{__file__}:{line}:"):
        dyn(np.ones(2), np.ones(2))


def test_unsupported_target_lists_the_targets():
    with pytest.raises(ValueError, match="'cpu', 'parallel', 'cuda'"):
        vectorize(["int64(int64)"], target="gpu")
    with pytest.raises(ValueError, match="'cpu', 'parallel', 'cuda'"):
        guvectorize(["void(int64[:], int64[:])"], "(n)->(n)", target="opencl")


def test_options():
    with pytest.raises(UnsupportedError, match="object mode"):
        vectorize(["int64(int64)"], nopython=False)
    with pytest.raises(TypeError, match="unknown option"):
        vectorize(["int64(int64)"], bogus=1)
    # cache= is accepted and handed to the compile layer
    sq = vectorize(["int64(int64)"], cache=True)(lambda_free_square)
    np.testing.assert_array_equal(sq(np.arange(5)), np.arange(5) ** 2)


def lambda_free_square(x):
    return x * x


def test_numba_signature_objects_are_accepted():
    numba = pytest.importorskip("numba")

    @vectorize([numba.float64(numba.float64, numba.float64)])
    def hyp(a, b):
        return math.sqrt(a * a + b * b)

    assert hyp.types == ["dd->d"]
    np.testing.assert_allclose(hyp(np.array([3.0]), np.array([4.0])), [5.0])

    @vectorize([ember.int32(ember.int32)])
    def neg(a):
        return -a

    assert neg.types == ["i->i"] and list(neg(np.int32([1, -2]))) == [-1, 2]


def test_the_ufunc_keeps_its_compiled_loops_alive():
    import gc

    def make():
        @vectorize(["float64(float64)", "int64(int64)"], target="parallel")
        def cube(x):
            return x * x * x
        return cube

    cube = make()
    gc.collect()
    x = RNG.random(100_000)
    np.testing.assert_allclose(cube(x), x ** 3, rtol=1e-15)
    np.testing.assert_array_equal(cube(np.arange(-5, 5)), np.arange(-5, 5) ** 3)


def test_extension_checks_its_arguments():
    from ember import _ember
    with pytest.raises(TypeError):
        _ember.ufunc_loop(None, None, "not a tuple", 1, False, 1)
    with pytest.raises(ValueError, match="ember.jit function"):
        _ember.ufunc_loop(object(), None, ((8, ()), (8, ())), 1, False, 1)
    with pytest.raises(ValueError, match="inputs"):
        _ember.ufunc_loop(object(), None, ((8, ()), (8, ())), 2, False, 1)
    with pytest.raises(TypeError):
        _ember.make_ufunc("f", "", 1, 1, [("bad",)], -1, None)
    with pytest.raises(ValueError):
        _ember.make_ufunc("f", "", 0, 1, [], -1, None)
    tnums, loop = ember._ufunc._CpuBuilder(lambda_free_square, 1, False, False).build(
        [ember.int64], ember.int64)
    with pytest.raises(ValueError, match="bad type number"):
        _ember.make_ufunc("f", "", 1, 1, [((tnums[0], 9999), loop)], -1, None)
    with pytest.raises(TypeError, match="UfuncLoop of 3 operands"):
        _ember.make_ufunc("f", "", 2, 1, [(tnums + tnums[:1], loop)], -1, None)
    with pytest.raises(ValueError, match="core axes"):
        _ember.make_ufunc("f", "", 1, 1, [(tnums, loop)], -1, "(n)->(n)")
    sq = _ember.make_ufunc("sq", "squares", 1, 1, [(tnums, loop)], -1, None)
    assert sq.__doc__.endswith("squares")
    np.testing.assert_array_equal(sq(np.arange(4)), [0, 1, 4, 9])


def test_single_signature_string_and_numba_gufunc_signature():
    @vectorize("float64(float64)")
    def half(x):
        return x / 2

    assert isinstance(half, np.ufunc) and half.types == ["d->d"]
    np.testing.assert_array_equal(half(np.array([3.0, -1.0])), [1.5, -0.5])
    numba = pytest.importorskip("numba")
    sig = numba.void(numba.float64[:], numba.float64[:], numba.float64[:])
    dot = guvectorize([sig], "(n),(n)->()")(dot_core)
    x, y = RNG.random((3, 4)), RNG.random((3, 4))
    np.testing.assert_allclose(dot(x, y), (x * y).sum(axis=1), rtol=1e-13)


def test_cuda_gufunc_device_arrays_out_and_stream(quiet_cuda_fallback):
    dot = guvectorize(["void(float64[:], float64[:], float64[:])"], "(n),(n)->()",
                      target="cuda")(dot_core)
    x, y = RNG.random((6, 5)), RNG.random((6, 5))
    dx, dy = cuda.to_device(x), cuda.to_device(y)
    out = cuda.device_array(6)
    assert dot(dx, dy, out=out) is out
    np.testing.assert_allclose(out.copy_to_host(), (x * y).sum(axis=1), rtol=1e-13)
    d = dot(dx, dy)
    assert isinstance(d, cuda.DeviceNDArray) and d.shape == (6,)
    np.testing.assert_allclose(d.copy_to_host(), (x * y).sum(axis=1), rtol=1e-13)
    stream = cuda.stream()
    np.testing.assert_allclose(dot(x, y, stream=stream), (x * y).sum(axis=1), rtol=1e-13)
    with pytest.raises(ValueError, match="core dimension 'n'"):
        dot(x, y[:, :4])
    with pytest.raises(ValueError, match="needs 1"):
        dot(np.float64(1.0), y)


# ---------------------------------------------------------------------------
# A fault inside a loop (a bounds check, np.zeros(-1) ...) raises once the
# loop is done, as the same call of an ember.jit function does (issue 14: the
# ufunc loops dropped them and returned what the loop had left)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["cpu", "parallel"])
def test_loop_fault_raises(target):
    def zeros_sum(n):
        return np.zeros(n).sum() + n

    f = ember.vectorize(["float64(int64)"], target=target)(zeros_sum)
    ok = np.arange(20000) % 5
    np.testing.assert_array_equal(f(ok), [zeros_sum(int(n)) for n in ok])
    bad = ok.copy()
    bad[12345] = -1                       # np.zeros(-1): NumPy's ValueError
    with pytest.raises(ValueError, match=r"test_vectorize\.py:\d+:\d+: negative dimensions"):
        f(bad)
    np.testing.assert_array_equal(f(ok), [zeros_sum(int(n)) for n in ok])  # still usable


@pytest.mark.parametrize("target", ["cpu", "parallel"])
def test_gufunc_bounds_fault_raises(target):
    def shift(x, out):
        for i in range(x.shape[0]):
            out[i] = x[i + 1]

    g = ember.guvectorize(["void(float64[:], float64[:])"], "(n)->(n)", target=target,
                          boundscheck=True)(shift)
    x = np.arange(12.0).reshape(3, 4)
    with pytest.raises(IndexError, match=r"test_vectorize\.py:\d+:\d+: index out of bounds"):
        g(x)
