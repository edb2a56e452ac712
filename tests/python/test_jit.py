"""ember.jit / ember.njit: CPU functions called from Python (numba's @njit).

Seed scenarios 1-4 of issue 6 (hypot, np.sin with inspect_types, the
mandelbrot fractal, a dict argument) plus in-place writes to NumPy arrays
of every layout, tuple arguments and returns, eager signatures, inlined
calls between jitted functions and the errors. Every result is compared
with the same function run by Python / NumPy.
"""

import cmath
import inspect
import io
import math

import numpy as np
import pytest

import ember
from ember import cuda, jit, njit
from ember.errors import TypingError, UnsupportedError


# ---------------------------------------------------------------------------
# scenario 1: hypot, py_func
# ---------------------------------------------------------------------------

@jit
def hypot(x, y):
    return math.sqrt(x * x + y * y)


def test_hypot_and_py_func():
    assert hypot(3.0, 4.0) == 5.0
    assert hypot.py_func(3.0, 4.0) == 5.0
    rng = np.random.default_rng(1)
    for x, y in rng.uniform(-1e3, 1e3, size=(50, 2)):
        assert hypot(float(x), float(y)) == pytest.approx(math.hypot(x, y), rel=1e-15)
    assert isinstance(hypot(3.0, 4.0), float)
    assert ember.njit is ember.jit


def test_specialises_per_argument_types():
    @njit
    def add(a, b):
        return a + b

    assert add(2, 3) == 5 and isinstance(add(2, 3), int)
    assert add(2.5, 1) == 3.5
    assert add(1 + 2j, 1) == 2 + 2j and isinstance(add(1j, 1), complex)
    assert add(True, True) == 2
    assert add(np.float32(1.5), np.float32(2.25)) == 3.75
    assert set(add.signatures) == {("int64", "int64"), ("float64", "int64"),
                                   ("complex128", "int64"), ("bool", "bool"),
                                   ("float32", "float32")}
    assert set(add.overloads) == set(add.signatures)
    assert add(2**62, 2**62) == -(2**63)  # int64 wraps, as numba


# ---------------------------------------------------------------------------
# scenario 2: np.sin of an int; inspect_types
# ---------------------------------------------------------------------------

@jit
def foo(x):
    return np.sin(x)


def test_sin_of_int_and_inspect_types():
    assert foo(2) == pytest.approx(np.sin(2), rel=1e-15)
    out = io.StringIO()
    foo.inspect_types(file=out)
    text = out.getvalue()
    assert "foo (int64)" in text
    assert "x = arg(0, name=x)  :: int64" in text
    assert "np.sin(x)  :: float64" in text
    assert "return np.sin(x)  :: float64" in text


def test_inspect_llvm_and_ir():
    hypot(3.0, 4.0)
    llvm = hypot.inspect_llvm()
    assert set(llvm) == set(hypot.signatures)
    text = llvm[("float64", "float64")]
    assert "sqrt" in text and "define" in text
    assert "function " in hypot.inspect_ir(("float64", "float64"))


# ---------------------------------------------------------------------------
# scenario 3: the mandelbrot fractal, complex arithmetic, a jitted call
# ---------------------------------------------------------------------------

def mandel_py(x, y, max_iters):
    i = 0
    c = complex(x, y)
    z = 0.0j
    for i in range(max_iters):
        z = z * z + c
        if (z.real * z.real + z.imag * z.imag) >= 4:
            return i
    return 255


mandel = njit(mandel_py)


@njit
def create_fractal(min_x, max_x, min_y, max_y, image, iters):
    height = image.shape[0]
    width = image.shape[1]
    pixel_size_x = (max_x - min_x) / width
    pixel_size_y = (max_y - min_y) / height
    for x in range(0, width):
        real = min_x + x * pixel_size_x
        for y in range(0, height):
            imag = min_y + y * pixel_size_y
            color = mandel(real, imag, iters)
            image[y, x] = color


def test_mandelbrot_small_equals_python():
    image = np.zeros((60, 90), dtype=np.uint8)
    create_fractal(-2.0, 1.0, -1.0, 1.0, image, 20)
    expect = np.zeros((60, 90), dtype=np.uint8)
    for x in range(90):
        for y in range(60):
            expect[y, x] = mandel_py(-2.0 + x * 3.0 / 90, -1.0 + y * 2.0 / 60, 20)
    np.testing.assert_array_equal(image, expect)
    assert len(np.unique(image)) > 5  # not a constant image
    assert mandel(0.0, 0.0, 20) == 255 and mandel(2.0, 2.0, 20) == 0


def test_mandelbrot_full_size():
    image = np.zeros((1000, 1500), dtype=np.uint8)
    create_fractal(-2.0, 1.0, -1.0, 1.0, image, 20)
    # a sample of pixels against Python
    for y in range(0, 1000, 97):
        for x in range(0, 1500, 131):
            assert image[y, x] == mandel_py(-2.0 + x * (3.0 / 1500), -1.0 + y * (2.0 / 1000),
                                            20), (y, x)
    assert (image == 255).sum() > 100000


# ---------------------------------------------------------------------------
# scenario 4 and other errors
# ---------------------------------------------------------------------------

@jit
def takes_anything(d):
    return 1


@pytest.mark.parametrize("value,kind", [({1: 2}, "dict"), ([1, 2], "list"), ({1}, "set")])
def test_container_arguments_are_typing_errors(value, kind):
    with pytest.raises(TypingError) as e:
        takes_anything(value)
    msg = str(e.value)
    assert f"argument 1 ('d') is a {kind}" in msg
    assert "test_jit.py:" in msg
    assert "NumPy array" in msg


def plain_python(x):
    return x + 1


def test_calling_a_plain_python_function():
    @jit
    def g(x):
        return plain_python(x)

    with pytest.raises(TypingError) as e:
        g(1)
    msg = str(e.value)
    assert "test_jit.py:" in msg and "plain_python" in msg
    assert "decorate `plain_python` with @ember.jit" in msg


def test_object_mode_is_an_error():
    with pytest.raises(UnsupportedError, match="object mode"):
        jit(forceobj=True)
    with pytest.raises(UnsupportedError, match="object mode"):
        jit(nopython=False)
    f = jit(nopython=True)(lambda_free)
    assert f(2) == 3


def lambda_free(x):
    return x + 1


def test_thread_intrinsics_are_unsupported():
    @jit
    def g(a):
        a[0] = cuda.grid(1)

    with pytest.raises(UnsupportedError, match="ember.jit function"):
        g(np.zeros(1))


def test_wrong_argument_count():
    with pytest.raises(TypeError, match="hypot"):
        hypot(1.0)


# ---------------------------------------------------------------------------
# arrays: no copies, writes land in the caller's array
# ---------------------------------------------------------------------------

@njit
def scale_add(a, k):
    n = 0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            a[i, j] = a[i, j] * k + i
            n += 1
    return n


@pytest.mark.parametrize("make", [
    lambda: np.arange(12.0).reshape(3, 4),
    lambda: np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    lambda: np.arange(48.0).reshape(6, 8)[::2, 1::2],   # 'A' layout
    lambda: np.arange(12.0).reshape(4, 3).T,            # F view
    lambda: np.arange(12.0).reshape(3, 4)[::-1],        # negative strides
])
def test_in_place_writes_any_layout(make):
    a = make()
    expect = a * 2.5 + np.arange(a.shape[0])[:, None]
    assert scale_add(a, 2.5) == a.size
    np.testing.assert_array_equal(a, expect)


def test_writes_through_a_view_reach_the_base():
    base = np.zeros(10, dtype=np.int32)

    @jit
    def fill(v, x):
        for i in range(len(v)):
            v[i] = x + i

    fill(base[2:8:2], 7)
    np.testing.assert_array_equal(base, [0, 0, 7, 0, 8, 0, 9, 0, 0, 0])


def test_readonly_array_reads_and_refuses_stores():
    a = np.arange(5.0)
    a.flags.writeable = False

    @jit
    def total(x):
        s = 0.0
        for i in range(x.size):
            s += x[i]
        return s

    assert total(a) == 10.0

    @jit
    def store(x):
        x[0] = 1.0

    with pytest.raises(TypingError):
        store(a)


def test_empty_and_dtypes():
    @jit
    def count(x):
        return x.size

    assert count(np.zeros(0)) == 0
    for dt in (np.int8, np.uint16, np.int32, np.float32, np.complex64, np.bool_):
        assert count(np.ones(7, dtype=dt)) == 7


# ---------------------------------------------------------------------------
# tuples in and out
# ---------------------------------------------------------------------------

def test_tuple_arguments_and_returns():
    @jit
    def stats(a, t):
        lo = a[0]
        hi = a[0]
        for i in range(a.shape[0]):
            lo = min(lo, a[i])
            hi = max(hi, a[i])
        return lo * t[0], hi + t[1], a.shape[0] > 3, complex(lo, hi)

    a = np.array([3.0, -1.5, 8.25, 2.0])
    r = stats(a, (2, 0.5))
    assert r == (-3.0, 8.75, True, complex(-1.5, 8.25))
    assert isinstance(r[0], float) and isinstance(r[2], bool)


def test_nested_tuple_and_literal_return():
    @jit
    def g(x):
        return (x, (1, 2.5)), 3

    assert g(7) == ((7, (1, 2.5)), 3)


def test_no_return_value_is_none():
    @jit
    def g(a):
        a[0] = 1

    a = np.zeros(2, dtype=np.int64)
    assert g(a) is None
    assert a[0] == 1


def test_defaults_and_keywords():
    @jit
    def g(x, y=10):
        return x * y

    assert g(2) == 20
    assert g(2, y=3) == 6
    assert g(y=4, x=5) == 20


# ---------------------------------------------------------------------------
# eager signatures, options
# ---------------------------------------------------------------------------

def test_eager_signature():
    @jit("float64(float64, float64)")
    def h(x, y):
        return math.sqrt(x * x + y * y)

    assert h.signatures == [("float64", "float64")]   # compiled at decoration
    assert h(3, 4) == 5.0                                # ints converted
    assert h.signatures == [("float64", "float64")]   # and nothing new compiled
    with pytest.raises(TypeError, match="No matching definition") as ei:
        h(1j, 2.0)
    assert "(ember.jit function " in str(ei.value)
    assert str(ei.value).endswith("its signatures are:\n    (float64, float64)")


def test_eager_signature_casts_the_return_value():
    @jit(["int64(float64)"])
    def half(x):
        return x / 2

    assert half(7.0) == 3 and isinstance(half(7.0), int)


def test_fastmath():
    @jit(fastmath=True)
    def dot(a, b):
        s = 0.0
        for i in range(a.size):
            s += a[i] * b[i]
        return s

    a = np.linspace(0, 1, 101)
    assert dot(a, a) == pytest.approx(float(a @ a), rel=1e-12)
    assert "fast" in dot.inspect_llvm(dot.signatures[0])


def test_boundscheck():
    @jit(boundscheck=True)
    def at(a, i):
        return a[i]

    assert at(np.arange(3.0), 2) == 2.0
    with pytest.raises(IndexError, match="test_jit.py"):
        at(np.arange(3.0), 5)


def test_boundscheck_from_the_environment_and_debug(monkeypatch):
    # numba's switch, read when the function is decorated
    def at(a, i):
        return a[i]

    monkeypatch.delenv("EMBER_BOUNDSCHECK", raising=False)
    monkeypatch.setenv("NUMBA_BOUNDSCHECK", "1")
    with pytest.raises(IndexError, match="test_jit.py"):
        jit(at)(np.arange(3.0), 5)
    monkeypatch.setenv("NUMBA_BOUNDSCHECK", "0")
    assert not jit(at).boundscheck
    assert jit(debug=True)(at).boundscheck
    assert not jit(debug=True, boundscheck=False)(at).boundscheck


def test_jit_of_a_non_function_is_a_type_error():
    with pytest.raises(TypeError, match="ember.jit: expected a Python function, not int"):
        jit()(42)


# ---------------------------------------------------------------------------
# calls between jitted functions; a kernel calling one
# ---------------------------------------------------------------------------

@jit
def cube(x):
    return x * x * x


@jit
def sum_cubes(n):
    s = 0
    for i in range(n):
        s += cube(i)
    return s, cube(1.5)


def test_jit_calls_jit():
    assert sum_cubes(10) == (sum(i ** 3 for i in range(10)), 3.375)
    assert cube(3) == 27


def test_kernel_calls_a_jit_function():
    @cuda.jit
    def k(out):
        i = cuda.grid(1)
        if i < out.size:
            out[i] = cube(i)

    out = np.zeros(8, dtype=np.int64)
    k[1, 8](out)
    np.testing.assert_array_equal(out, np.arange(8) ** 3)


def test_complex_math():
    @jit
    def g(z):
        return cmath.exp(z) + abs(z)

    z = 0.5 - 1.25j
    assert g(z) == pytest.approx(cmath.exp(z) + abs(z), rel=1e-14)


# ---------------------------------------------------------------------------
# scenario 9: np.random (NumPy's legacy MT19937 stream, one per thread)
# ---------------------------------------------------------------------------

@njit
def monte_carlo_pi(nsamples):
    acc = 0
    for i in range(nsamples):
        x = np.random.random()
        y = np.random.random()
        if (x ** 2 + y ** 2) < 1.0:
            acc += 1
    return 4.0 * acc / nsamples


def test_monte_carlo_pi():
    assert abs(monte_carlo_pi(1_000_000) - math.pi) < 0.01


@njit
def seeded_draws(seed, out):
    np.random.seed(seed)
    for i in range(out.shape[0]):
        out[i, 0] = np.random.random()
        out[i, 1] = np.random.uniform(2.0, 5.0)
        out[i, 2] = np.random.normal(1.0, 3.0)
        out[i, 3] = np.random.randint(3, 17)
        out[i, 4] = np.random.randint(-2**40, 2**41)
        out[i, 5] = np.random.normal()
        out[i, 6] = np.random.randint(10)


def test_random_matches_numpy_randomstate():
    out = np.zeros((50, 7))
    seeded_draws(12345, out)
    rs = np.random.RandomState(12345)
    expect = np.array([[rs.random_sample(), rs.uniform(2.0, 5.0), rs.normal(1.0, 3.0),
                        rs.randint(3, 17), rs.randint(-2**40, 2**41), rs.normal(),
                        rs.randint(10)] for _ in range(50)])
    np.testing.assert_array_equal(out, expect)
    again = np.zeros((50, 7))
    seeded_draws(12345, again)   # seeding restarts the stream
    np.testing.assert_array_equal(again, out)


def test_random_in_a_kernel_is_unsupported():
    @cuda.jit
    def k(out):
        out[0] = np.random.random()

    with pytest.raises(UnsupportedError, match="np.random"):
        k[1, 1](np.zeros(1))


def test_random_wrong_arguments():
    @njit
    def g():
        return np.random.random(3)

    with pytest.raises(TypingError, match="no size="):
        g()


@njit
def call_seed(s):
    np.random.seed(s)
    return np.random.random()


@njit
def call_randint(low, high):
    return np.random.randint(low, high)


@njit
def call_randint1(high):
    return np.random.randint(high)


@njit
def call_normal(loc, scale):
    return np.random.normal(loc, scale)


@njit
def call_uniform(low, high):
    return np.random.uniform(low, high)


@njit
def seed_2_40():
    np.random.seed(2**40)   # used to become seed 0
    return np.random.random()


def line_of(fn, text):
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(lines) if text in line)


RANDOM_CALLS = {"seed": call_seed, "randint": call_randint, "randint1": call_randint1,
                "normal": call_normal, "uniform": call_uniform}


@pytest.mark.parametrize("name,args", [
    ("seed", (-1,)), ("seed", (2**40,)), ("seed", (2**32,)), ("seed", (-2**63,)),
    ("randint", (5, 5)), ("randint", (5, 4)), ("randint", (0, 0)), ("randint1", (0,)),
    ("randint1", (-3,)), ("normal", (0.0, -1.0)), ("normal", (0.0, -0.0)),
    ("normal", (1.0, -np.inf)), ("uniform", (0.0, np.inf)), ("uniform", (np.nan, 1.0)),
    ("uniform", (-1e308, 1e308)),
])
def test_random_argument_checks_are_numpys(name, args):
    fn = RANDOM_CALLS[name]
    with pytest.raises(Exception) as want:
        getattr(np.random, name.rstrip("1"))(*args)
    with pytest.raises(type(want.value)) as got:
        fn(*args)
    msg = str(got.value)
    assert msg.endswith(": " + str(want.value)), (msg, str(want.value))
    assert f"{__file__}:{line_of(fn.py_func, 'np.random.')}" in msg


def test_random_seed_2_40_literal_is_refused():
    with pytest.raises(ValueError, match=r"test_jit.py:\d+:\d+: Seed must be between 0 and "
                       r"2\*\*32 - 1"):
        seed_2_40()


@pytest.mark.parametrize("name,args", [
    ("seed", (0,)), ("seed", (2**32 - 1,)), ("randint", (4, 5)), ("randint1", (1,)),
    ("normal", (2.0, 0.0)), ("normal", (0.0, np.nan)), ("uniform", (5.0, 1.0)),
    ("uniform", (-1e307, 1e307)),
])
def test_random_arguments_numpy_accepts_still_draw(name, args):
    # on NumPy's side of every check: the same numbers as RandomState
    call_seed(99)
    got = RANDOM_CALLS[name](*args)
    np.random.seed(99)
    np.random.random()
    want = getattr(np.random, name.rstrip("1"))(*args)
    if name == "seed":
        want = np.random.random()
    np.testing.assert_equal(got, want)


# ---------------------------------------------------------------------------
# recursion: with an explicit signature, as numba needs one
# ---------------------------------------------------------------------------

@njit("int64(int64)")
def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def test_recursion_with_a_signature():
    assert [fib(i) for i in range(15)] == [fib.py_func(i) for i in range(15)]
    assert fib(25) == 75025


def test_recursion_depth_limit():
    @njit("int64(int64)")
    def depth(n):
        if n == 0:
            return 0
        return 1 + depth(n - 1)

    assert depth(900) == 900
    with pytest.raises(RecursionError, match="deeper than 1000"):
        depth(5000)


def test_recursion_without_a_signature():
    with pytest.raises(TypingError, match=r"explicit signature, e.g. @ember.jit"):
        fact_lazy(5)


@njit
def fact_lazy(n):
    if n <= 1:
        return 1
    return n * fact_lazy(n - 1)


# ---------------------------------------------------------------------------
# the C call fast path (python/ext/jitcall.c)
# ---------------------------------------------------------------------------

def test_fast_path_registers_scalar_calls_only():
    @jit
    def mul(a, b):
        return a * b

    assert mul._fastpath_size == 0
    assert mul(3, 4) == 12                 # slow path, then registered
    assert mul._fastpath_size == 1
    assert mul(5, 6) == 30                 # fast path
    assert mul(2.5, 2) == 5.0 and mul._fastpath_size == 2
    assert mul(True, 3) == 3 and mul._fastpath_size == 3
    assert mul(b=2, a=4) == 8 and mul._fastpath_size == 3   # keywords: slow path
    assert mul((1, 2)[0], 7) == 7
    a = np.arange(3.0)
    np.testing.assert_array_equal(mul(a[0], a[1]), 0.0)
    assert mul._fastpath_size == 4          # np.float64 scalars
    with pytest.raises(OverflowError):
        mul(2**70, 1)                       # fast path shape (int, int), too big


def test_fast_path_applies_the_declared_return_cast():
    @jit("int32(float64)")
    def trunc(x):
        return x

    assert trunc(2.75) == 2 and isinstance(trunc(2.75), int)
    assert trunc(-1.5) == -1


def test_fast_path_keys_arrays_by_dtype_ndim_layout_and_writeability():
    @jit
    def corner(a):
        a[0, 0] += 1
        return a[0, 1] + a.shape[0]

    c = np.arange(6.0).reshape(2, 3)
    f = np.asfortranarray(c)
    assert corner(c) == 1.0 + 2 and corner(c) == 3.0 and c[0, 0] == 2.0
    assert corner._fastpath_size == 1
    assert corner(f) == 3.0 and f[0, 0] == 1.0
    assert corner._fastpath_size == 2 and len(corner.signatures) == 2
    i = np.arange(6).reshape(3, 2)
    assert corner(i) == 4 and i[0, 0] == 1 and corner._fastpath_size == 3
    assert corner(i) == 4 and i[0, 0] == 2 and corner._fastpath_size == 3
    s = np.arange(12.0).reshape(3, 4)[:, ::2]          # 'A' layout
    assert corner(s) == 5.0 and s[0, 0] == 1.0 and corner._fastpath_size == 4
    assert ("array", "float64", 2, "A", False) in [sig[0] for sig in corner.signatures]

    @jit
    def total(a):
        return a[0] + a[1]

    r = np.array([1.0, 2.0])
    r.flags.writeable = False
    assert total(r) == 3.0 and total(np.array([1.0, 5.0])) == 6.0
    assert total._fastpath_size == 2   # read-only and writeable differ
    assert total((np.array([2.0, 2.0]))) == 4.0
    with pytest.raises(TypeError):
        total(np.array([1.0, 2.0]).astype(">f8"))   # not native: the slow path says so


def test_random_in_a_recursive_function():
    @njit("float64(int64)")
    def draws(n):
        if n == 0:
            return np.random.random()
        return draws(n - 1) + np.random.random()

    @njit
    def seed(s):
        np.random.seed(s)

    seed(7)
    rs = np.random.RandomState(7)
    assert draws(3) == pytest.approx(sum(rs.random_sample() for _ in range(4)), rel=1e-15)


def test_threads_call_concurrently_with_their_own_generators():
    import threading

    @njit
    def draw_into(seed, out):
        np.random.seed(seed)
        for i in range(out.size):
            out[i] = np.random.random()

    outs = [np.zeros(20000) for _ in range(4)]
    images = [np.zeros((60, 90), dtype=np.uint8) for _ in range(4)]
    draw_into(0, np.zeros(1))   # compile once, before the threads
    create_fractal(-2.0, 1.0, -1.0, 1.0, images[0], 20)

    def work(k):
        draw_into(k % 2, outs[k])
        create_fractal(-2.0, 1.0, -1.0, 1.0, images[k], 20)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        np.testing.assert_array_equal(outs[k], np.random.RandomState(k % 2).random_sample(20000))
        np.testing.assert_array_equal(images[k], images[0])


def test_complex_builtin_is_exact():
    """complex(x, y) of reals is exactly (x, y) (it was x + y*1j, which made
    complex(1.0, inf) nan+infj and lost the sign of a zero imaginary part);
    complex arguments follow CPython: (a.real - b.imag, a.imag + b.real)."""
    @njit
    def c(x, y):
        return complex(x, y)

    cases = [(1.0, math.inf), (-0.0, -0.0), (math.inf, 2.0), (1.5, -2.25), (3, True),
             (1 + 2j, 3 + 4j), (1.5, 2 + 1j), (1j, 2.0)]
    for x, y in cases:
        got, want = c(x, y), complex(x, y)
        assert got == want, (x, y)
        assert math.copysign(1, got.real) == math.copysign(1, want.real)
        assert math.copysign(1, got.imag) == math.copysign(1, want.imag)

    @cuda.jit
    def k(out, x, y):
        out[0] = complex(x, y)

    out = np.zeros(1, dtype=np.complex128)
    k[1, 1](out, 1.0, math.inf)
    assert out[0] == complex(1.0, math.inf)


def twice(self, x):
    return 2 * x


class _Holder:
    method = njit(twice)


def test_jitted_function_on_a_class_binds_like_a_function():
    assert _Holder.method(True, 4) == 8   # class access: a plain function
    with pytest.raises(TypingError, match="argument 1 \\('self'\\)"):
        _Holder().method(4)   # instance access binds self, which nopython cannot take


def test_transpose_view():
    @njit
    def through_t(a):
        t = a.T
        for i in range(t.shape[0]):
            for j in range(t.shape[1]):
                t[i, j] = t[i, j] * 10 + i
        return t.shape, t.strides, a.T[1, 0]

    a = np.arange(6.0).reshape(2, 3)
    expect = a.copy()
    expect.T[...] = expect.T * 10 + np.arange(3)[:, None]
    shape, strides, x = through_t(a)
    assert shape == (3, 2) and strides == (8, 24)
    np.testing.assert_array_equal(a, expect)
    assert x == expect[0, 1]
    assert through_t.signatures[0][0][3] == "C"

    @cuda.jit
    def k(a):   # a kernel writing through .T: the host array is copied back
        i = cuda.grid(1)
        if i < a.shape[1]:
            a.T[i, 0] = i + 1

    h = np.zeros((2, 4))
    k[1, 4](h)
    np.testing.assert_array_equal(h[0], [1, 2, 3, 4])
    np.testing.assert_array_equal(h[1], 0)


def test_error_inside_a_called_jit_function_names_its_line():
    @njit
    def inner(x):
        return x.foo

    @njit
    def outer(x):
        return inner(x) + 1

    with pytest.raises(TypingError) as e:  # attributes are typed (records have fields)
        outer(1.0)
    msg = str(e.value)
    line = inner.py_func.__code__.co_firstlineno + 2
    assert f"test_jit.py:{line}:" in msg and "float64 has no attribute 'foo'" in msg
    assert ".inner' called from" in msg and "test_jit.py:" in msg


def test_unsupported_numpy_function_is_a_typing_error():
    @njit
    def g(x):
        return np.trapz(x)

    with pytest.raises(TypingError) as e:
        g(1.0)
    msg = str(e.value)
    assert "np.trapz() is not supported in ember.jit functions" in msg
    assert "test_jit.py:" in msg and "hint:" in msg


# ---------------------------------------------------------------------------
# loops over arrays, enumerate() and zip()
# ---------------------------------------------------------------------------

def test_for_over_arrays_enumerate_zip():
    @njit
    def rows_dot(a, b):
        t = 0.0
        for r in a:                       # rows of a 2-D array
            for x, y in zip(r, b):        # zip stops at the shortest
                t += x * y
        return t

    a = np.arange(12.0).reshape(3, 4)
    b = np.arange(5.0)
    assert rows_dot(a, b) == float((a @ b[:4]).sum())

    @njit
    def stamp(a):
        n = 0
        for i, r in enumerate(a):         # r is a view: writes land in a
            r[0] = i * 100
            n += 1
        return n

    c = a.copy()
    assert stamp(c) == 3
    np.testing.assert_array_equal(c[:, 0], [0, 100, 200])
    np.testing.assert_array_equal(c[:, 1:], a[:, 1:])

    @njit
    def first_above(a, x):
        k = 0
        for v in a[::-1]:                 # any expression, evaluated once
            if v > x:
                break
            k += 1
        return k

    assert first_above(np.array([5, 1, 2, 3]), 4) == 3   # 3, 2, 1 then 5

    @cuda.jit
    def kernel_sum(out, a):
        if cuda.grid(1) == 0:
            s = 0.0
            for v in a:
                s += v
            out[0] = s

    out = np.zeros(1)
    kernel_sum[1, 1](out, np.arange(5.0))
    assert out[0] == 10.0


def test_for_over_a_tuple_unrolls():
    @njit
    def total(t):
        s = 0.0
        for v in t:               # items of different number types
            s += v
        return s

    assert total((1, 2.5, True)) == 4.5

    @njit
    def both(a, b):
        s = 0.0
        for arr in (a, b):
            for x in arr:
                s += x
        return s

    assert both(np.arange(3.0), np.arange(4.0)) == 9.0

    @njit
    def stops(t):
        n = 0
        for v in t:               # break and continue keep their meaning
            if v < 0:
                continue
            if v > 1:
                break
            n += 1
        return n

    assert stops((1, -4, 0, 2, 1)) == 2


# ---------------------------------------------------------------------------
# reductions: a.sum(), a.prod(), a.min(), a.max(), a.mean(), np.sum(a) ...
# ---------------------------------------------------------------------------

@njit
def all_reductions(a):
    return (a.sum(), a.prod(), a.min(), a.max(), a.mean(), np.sum(a), np.prod(a),
            np.min(a), np.max(a), np.amin(a), np.amax(a), np.mean(a))


@pytest.mark.parametrize("a", [
    np.arange(1.0, 7.0).reshape(2, 3),
    np.array([3, -1, 7], dtype=np.int32),
    np.array([True, False, True]),
    np.arange(12.0).reshape(3, 4)[:, ::2].T,           # strided, F view
    np.array([2, 5, 1], dtype=np.uint8),
    np.array([1.5, -2.0, 0.25], dtype=np.float32),
    np.arange(24.0).reshape(2, 3, 4)[:, ::-1, 1:],     # 3-d, negative strides
])
def test_reductions_match_numpy(a):
    got = all_reductions(a)
    want = (a.sum(), a.prod(), a.min(), a.max(), a.mean(), np.sum(a), np.prod(a),
            np.min(a), np.max(a), np.amin(a), np.amax(a), np.mean(a))
    for g, w in zip(got, want):
        assert g == pytest.approx(w.item(), rel=1e-6), (g, w)
        assert type(g) is type(w.item()), (g, w)


def test_reductions_nan_complex_and_empty():
    r = all_reductions(np.array([1.0, np.nan, 2.0]))
    assert all(math.isnan(x) for x in r)

    @njit
    def c(z):
        return z.sum(), z.mean(), z.prod()

    z = np.array([1 + 2j, 3 - 1j])
    assert c(z) == (z.sum(), z.mean(), z.prod())

    @njit
    def e(a):
        return a.sum(), a.prod(), a.mean()

    s, p, m = e(np.zeros(0))
    assert s == 0.0 and p == 1.0 and math.isnan(m)

    @njit
    def lo(a):
        return a.min()

    with pytest.raises(ValueError, match="zero-size array"):
        lo(np.zeros((0, 3)))

    @njit
    def two(x, y):                         # two numbers: np.min/np.max stay elementwise
        return np.max(x, y), np.min(x, y)

    assert two(3.0, 4.0) == (4.0, 3.0)


def test_sum_in_a_kernel():
    @cuda.jit
    def row_sums(out, a):
        i = cuda.grid(1)
        if i < a.shape[0]:
            out[i] = a[i].sum() + a[i].mean()

    a = np.arange(12.0).reshape(3, 4)
    out = np.zeros(3)
    row_sums[1, 3](out, a)
    np.testing.assert_allclose(out, a.sum(axis=1) + a.mean(axis=1))


def test_builtin_sum_min_max_of_an_array():
    @njit
    def g(a):
        return sum(a), min(a), max(a), min(a[0], a[1], 0.5)

    a = np.array([2.5, -1.0, 4.0])
    assert g(a) == (5.5, -1.0, 4.0, -1.0)


def test_a_call_opens_no_device(tmp_path):
    # an ember.jit function runs on the calling thread over host memory: its
    # calls must not pay for the CPU device's topology and pool, nor for
    # CUDA's initialisation where a driver is (numba's njit does neither)
    import os
    import subprocess
    import sys
    from conftest import ROOT
    code = ("import math, numpy as np, ember\n"
            "from ember import _ember\n"
            "@ember.njit\n"
            "def f(x, a):\n"
            "    a[0] = math.sqrt(x)\n"
            "    b = np.zeros(3)\n"
            "    b[1] = a[0]\n"
            "    return b[1]\n"
            "a = np.zeros(2)\n"
            "assert f(16.0, a) == 4.0 and a[0] == 4.0\n"
            "assert not _ember._devices_open()\n"
            "from ember import cuda\n"
            "d = cuda.to_device(np.ones(2))\n"
            "assert _ember._devices_open()\n"
            "assert f(9.0, d) == 3.0 and d.copy_to_host()[0] == 3.0\n"
            "print('ok')\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    env.pop("EMBER_DEVICE", None)
    script = tmp_path / "no_device.py"
    script.write_text(code)
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stdout + proc.stderr


TABLE = np.array([[1.5, -2.0, 3.25], [0.5, 8.0, -1.0]])
BIG_TABLE = np.zeros(3 << 20)  # 24 MiB


def test_global_arrays_are_frozen_constants():
    # numba's rule for @njit: a global array's values at compile time
    @ember.njit
    def weighted(i, x):
        s = 0.0
        for j in range(TABLE.shape[1]):
            s += TABLE[i, j] * x
        return s, TABLE.sum(), len(TABLE)

    want = (float(TABLE[1].sum() * 2.0), float(TABLE.sum()), 2)
    assert weighted(1, 2.0) == pytest.approx(want)
    TABLE_before = TABLE.copy()
    TABLE[1, 1] = 100.0     # later changes are not seen (the code has the old values)
    try:
        assert weighted(1, 2.0) == pytest.approx(want)
    finally:
        TABLE[:] = TABLE_before


def test_global_arrays_frozen_are_read_only_and_bounded():
    @ember.njit
    def store():
        TABLE[0, 0] = 1.0

    with pytest.raises(TypingError, match="read-only"):
        store()

    @ember.njit
    def big():
        return BIG_TABLE[0]

    with pytest.raises((TypingError, UnsupportedError), match="pass it as an argument") as e:
        big()
    assert "test_jit.py" in str(e.value) and "BIG_TABLE[0]" in str(e.value)


def test_global_array_in_a_kernel_is_frozen_too():
    # numba's rule on the GPU (tests/python/test_kernel_numpy.py has more)
    from ember import cuda

    @cuda.jit
    def k(out):
        out[0] = TABLE[0, 0]

    out = np.zeros(1)
    k[1, 1](out)
    assert out[0] == TABLE[0, 0]

    @cuda.jit
    def big(out):
        out[0] = BIG_TABLE[0]

    with pytest.raises(TypingError, match=r"test_jit\.py:\d+:\d+: .*more than 64 KiB"):
        big[1, 1](out)
