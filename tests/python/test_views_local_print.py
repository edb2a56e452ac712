"""Array views inside kernels (basic slicing, a[i] of an n-d array),
cuda.local.array, print() and cuda.threadfence*, on the cpu device.

Every result is compared with NumPy applied to the same input on the host.
"""

import itertools
import re

import numpy as np
import pytest

import ember
from ember import cuda
from ember.errors import TypingError, UnsupportedError


@pytest.fixture(autouse=True)
def _cpu(cpu_device):
    yield


# ---------------------------------------------------------------------------
# Slicing
# ---------------------------------------------------------------------------

@cuda.jit
def slice_1d(a, start, stop, step, out, n):
    v = a[start:stop:step]
    n[0] = v.size
    for j in range(v.size):
        out[j] = v[j]


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_runtime_slices_match_python(dtype):
    a = np.arange(10, dtype=dtype) * 3 + 1
    bounds = [-12, -10, -3, -1, 0, 2, 5, 9, 10, 13]
    for start, stop, step in itertools.product(bounds, bounds, [-3, -1, 1, 2, 4]):
        out = np.zeros(10, dtype)
        n = np.zeros(1, np.int64)
        slice_1d[1, 1](a, start, stop, step, out, n)
        want = a[start:stop:step]
        assert n[0] == want.size, (start, stop, step)
        np.testing.assert_array_equal(out[:want.size], want, err_msg=str((start, stop, step)))


@cuda.jit
def slice_zero_step(a, step, n):
    n[0] = a[::step].size


def test_runtime_zero_step_gives_an_empty_view():
    # Python raises ValueError; a kernel cannot raise, so the view is empty
    n = np.full(1, -1, np.int64)
    slice_zero_step[1, 1](np.arange(5.0), 0, n)
    assert n[0] == 0


@cuda.jit
def omitted_parts(a, out):
    out[0] = a[2:].size
    out[1] = a[:3].size
    out[2] = a[::-1][0]
    out[3] = a[::2][1]
    out[4] = a[-2:][0]
    out[5] = a[:-2].size
    out[6] = a[1::3][1]
    out[7] = a[:][4]


def test_omitted_slice_parts():
    a = np.arange(10.0) + 0.5
    out = np.zeros(8)
    omitted_parts[1, 1](a, out)
    want = [a[2:].size, a[:3].size, a[::-1][0], a[::2][1], a[-2:][0], a[:-2].size,
            a[1::3][1], a[:][4]]
    np.testing.assert_array_equal(out, want)


@cuda.jit
def views_2d(a, out):
    i = cuda.grid(1)
    if i < a.shape[0]:
        row = a[i]             # the row: a[i, :]
        tail = a[i, 1:]
        col = a[:, i % a.shape[1]]
        block = a[1:3, ::2]
        rev = a[::-1, ::-1]
        out[i, 0] = row[1] + tail[0]
        out[i, 1] = col[-1] + col.shape[0]
        out[i, 2] = block[1, 1] + block.shape[0] * 10 + block.shape[1] * 100
        out[i, 3] = rev[0, 0] + rev[i, 1]
        out[i, 4] = a[i][2]    # chained indexing through a row view


@pytest.mark.parametrize("order", ["C", "F"])
def test_2d_views_match_numpy(order):
    a = np.asarray(np.arange(24, dtype=np.float64).reshape(4, 6) ** 1.5, order=order)
    out = np.zeros((4, 5))
    views_2d[1, 4](a, out)
    want = np.zeros_like(out)
    for i in range(4):
        want[i, 0] = a[i][1] + a[i, 1:][0]
        col = a[:, i % 6]
        want[i, 1] = col[-1] + col.shape[0]
        blk = a[1:3, ::2]
        want[i, 2] = blk[1, 1] + blk.shape[0] * 10 + blk.shape[1] * 100
        want[i, 3] = a[::-1, ::-1][0, 0] + a[::-1, ::-1][i, 1]
        want[i, 4] = a[i][2]
    np.testing.assert_allclose(out, want)


@cuda.jit
def views_3d(a, out):
    plane = a[1]
    line = a[:, 2, 1:]
    out[0] = plane[2, 3]
    out[1] = line[1, 2]
    out[2] = line.shape[0] * 10 + line.shape[1]
    out[3] = a[-1, ::-2, 0][1]


def test_3d_views():
    a = np.arange(2 * 3 * 4, dtype=np.int32).reshape(2, 3, 4)
    out = np.zeros(4, np.int32)
    views_3d[1, 1](a, out)
    want = [a[1][2, 3], a[:, 2, 1:][1, 2], a[:, 2, 1:].shape[0] * 10 + a[:, 2, 1:].shape[1],
            a[-1, ::-2, 0][1]]
    np.testing.assert_array_equal(out, want)


@cuda.jit
def layouts(a):
    r = a[1]
    s = a[1:3]
    c = a[:, 1]
    t = a[1:3, 2:4]
    st = a[::2]
    r[0] = r[0] + c[0] + s[0, 0] + t[0, 0] + st[0, 0]


def _var_types(kernel):
    ir = kernel.inspect_ir(kernel.signatures[0])
    return dict(re.findall(r"var (\w+) :: (.+)", ir))


def test_view_layouts_follow_numpy_contiguity():
    layouts[1, 1](np.ones((4, 5)))
    t = _var_types(layouts)
    assert t["r"] == "float64[::1]"          # a row of a C array is contiguous
    assert t["s"] == "float64[:, ::1]"       # leading rows too
    assert t["c"] == "float64[:]"            # a column is strided
    assert t["t"] == "float64[:, :]"         # an inner block is not contiguous
    assert t["st"] == "float64[:, :]"        # a step breaks contiguity


def test_writes_through_views_are_copied_back():
    b = np.ones((4, 5))
    layouts[1, 1](b)
    want = np.ones((4, 5))
    want[1, 0] = 5.0                       # written through the row view r
    np.testing.assert_array_equal(b, want)
    assert layouts.overloads[layouts.signatures[0]].param_written == (True,)


@cuda.jit(device=True)
def dev_sum(v):
    s = 0.0
    for k in range(v.size):
        s += v[k]
    return s


@cuda.jit
def rows_to_device_function(a, out):
    i = cuda.grid(1)
    if i < a.shape[0]:
        out[i] = dev_sum(a[i, 1:-1])


def test_views_passed_to_device_functions():
    a = np.random.default_rng(1).random((8, 7))
    out = np.zeros(8)
    rows_to_device_function[2, 4](a, out)
    np.testing.assert_allclose(out, a[:, 1:-1].sum(axis=1))


@cuda.jit
def store_into_readonly_view(a):
    v = a[1:]
    v[0] = 1.0


def test_views_of_readonly_arrays_stay_readonly():
    a = np.zeros(4)
    a.flags.writeable = False
    with pytest.raises(TypingError, match="read-only"):
        store_into_readonly_view[1, 1](a)


@cuda.jit
def too_many_slice_indices(a):
    v = a[1:, 2]
    a[0] = v[0]


@cuda.jit
def float_slice_bound(a, x):
    v = a[x:]
    a[0] = v[0]


@cuda.jit
def zero_step_literal(a):
    v = a[::0]
    a[0] = v[0]


@cuda.jit
def slice_of_number(a):
    x = a[0]
    y = x[1:]
    a[0] = y


@pytest.mark.parametrize("kernel, args, exc, text", [
    (too_many_slice_indices, (np.zeros(4),), TypingError, "too many indices for float64[::1]"),
    (float_slice_bound, (np.zeros(4), 1.5), TypingError, "slice start must be an integer, "
                                                          "not float64"),
    (zero_step_literal, (np.zeros(4),), TypingError, "slice step cannot be zero"),
    (slice_of_number, (np.zeros(4),), TypingError, "float64 is not an array and cannot be "
                                                    "sliced"),
])
def test_slicing_errors(kernel, args, exc, text):
    with pytest.raises(exc, match=re.escape(text)) as ei:
        kernel[1, 1](*args)
    assert "test_views_local_print.py:" in str(ei.value)


# ---------------------------------------------------------------------------
# cuda.local.array
# ---------------------------------------------------------------------------

N_LOCAL = 5
SHAPE_2D = (3, 4)


@cuda.jit
def local_prefix_sums(a, out):
    i = cuda.grid(1)
    if i < a.shape[0]:
        acc = cuda.local.array(N_LOCAL, dtype=ember.float64)
        s = 0.0
        for k in range(N_LOCAL):
            s += a[i, k]
            acc[k] = s
        # read back in reverse: each thread sees only its own values
        for k in range(N_LOCAL):
            out[i, k] = acc[N_LOCAL - 1 - k]


def test_local_array_is_per_thread_storage():
    a = np.random.default_rng(2).random((64, N_LOCAL))
    out = np.zeros_like(a)
    local_prefix_sums[4, 16](a, out)
    np.testing.assert_allclose(out, np.cumsum(a, axis=1)[:, ::-1])


@cuda.jit
def local_2d(out):
    i = cuda.grid(1)
    if i < out.shape[0]:
        m = cuda.local.array(SHAPE_2D, np.int32)
        for r in range(3):
            for c in range(4):
                m[r, c] = i * 100 + r * 10 + c
        out[i] = m[2, 3] + m.shape[0] * 1000 + m[1][2] * 0 + m.size * 100000


@cuda.jit
def local_by_name_and_keywords(out):
    b = cuda.local.array(shape=(2,), dtype="uint8")
    c = cuda.local.array((2, 2), dtype=np.complex64)
    b[0] = 255
    b[1] = b[0] + 1           # wraps in uint8
    c[1, 1] = 1 + 2j
    out[0] = b[0]
    out[1] = b[1]
    out[2] = c[1, 1].imag


def test_local_array_shapes_and_dtypes():
    out = np.zeros(8, np.int64)
    local_2d[2, 4](out)
    np.testing.assert_array_equal(out, [i * 100 + 23 + 3000 + 1200000 for i in range(8)])
    out = np.zeros(3)
    local_by_name_and_keywords[1, 1](out)
    np.testing.assert_array_equal(out, [255, 0, 2])


@cuda.jit
def local_runtime_shape(out, n):
    x = cuda.local.array(n, ember.float32)
    x[0] = 1
    out[0] = x[0]


@cuda.jit
def local_bad_dtype(out):
    x = cuda.local.array(4, "float128")
    out[0] = x[0]


@cuda.jit
def local_too_big(out):
    x = cuda.local.array((1024, 1024), np.float64)
    out[0] = x[0, 0]


@cuda.jit
def shared_array(out):
    x = cuda.shared.array(32, np.float32)
    out[0] = x[0]


@pytest.mark.parametrize("kernel, args, exc, text", [
    (local_runtime_shape, (np.zeros(1), 4), TypingError, "shape must be a constant"),
    (local_bad_dtype, (np.zeros(1),), TypingError, "dtype must be a scalar type"),
    (local_too_big, (np.zeros(1),), TypingError, "more than 1024 KiB"),
])
def test_local_array_errors(kernel, args, exc, text):
    with pytest.raises(exc, match=re.escape(text)) as ei:
        kernel[1, 1](*args)
    assert "test_views_local_print.py:" in str(ei.value)


# ---------------------------------------------------------------------------
# print() and fences
# ---------------------------------------------------------------------------

@cuda.jit
def prints(a, n):
    i = cuda.grid(1)
    if i < n:
        print("thread", i, "value", a[i], a[i] > 1.0, np.int8(-3), np.uint64(7), 1 + 2j)


def test_print_writes_one_line_per_thread(capfd):
    a = np.array([0.5, 1.5, 2.25], np.float32)
    prints[1, 8](a, 3)
    lines = sorted(capfd.readouterr().out.splitlines())
    assert lines == [
        "thread 0 value 0.500000 False -3 7 (1.000000+2.000000j)",
        "thread 1 value 1.500000 True -3 7 (1.000000+2.000000j)",
        "thread 2 value 2.250000 True -3 7 (1.000000+2.000000j)",
    ]


@cuda.jit
def prints_with_sep_and_percent(x):
    print("100%", x, sep="|", end="!\n")


def test_print_sep_end_and_percent_signs(capfd):
    prints_with_sep_and_percent[1, 1](42)
    assert capfd.readouterr().out == "100%|42!\n"


@cuda.jit
def print_as_value(out):
    out[0] = print(1)


@cuda.jit
def print_an_array(out):
    print(out)


@cuda.jit
def fence_as_value(out):
    out[0] = cuda.threadfence()


@pytest.mark.parametrize("kernel, exc, text", [
    (print_as_value, TypingError, "print() returns nothing"),
    (print_an_array, TypingError, "prints numbers and string constants, not float64[::1]"),
    (fence_as_value, TypingError, "cuda.threadfence() returns nothing"),
])
def test_print_and_fence_errors(kernel, exc, text):
    with pytest.raises(exc, match=re.escape(text)):
        kernel[1, 1](np.zeros(1))


@cuda.jit
def publish(data, flags):
    i = cuda.grid(1)
    if i < data.size:
        data[i] = i * 2
        cuda.threadfence_block()
        cuda.threadfence()
        cuda.threadfence_system()
        flags[i] = 1


def test_threadfences_compile_and_order_stores():
    data = np.zeros(256, np.int64)
    flags = np.zeros(256, np.int32)
    publish[4, 64](data, flags)
    np.testing.assert_array_equal(data, np.arange(256) * 2)
    assert flags.all()
    assert "fence seq_cst" in publish.inspect_llvm(publish.signatures[0])


# ---------------------------------------------------------------------------
# Block-level operations run on the CPU device, in device functions too
# (tests/python/test_block_cpu.py has the full set)
# ---------------------------------------------------------------------------

@cuda.jit(device=True)
def shfl_in_device_function(v):
    return cuda.shfl_down_sync(0xffffffff, v, 1)


@cuda.jit
def uses_shfl(a, out):
    i = cuda.grid(1)
    out[i] = shfl_in_device_function(a[i])


@cuda.jit(device=True)
def syncwarp_in_device_function():
    cuda.syncwarp()


@cuda.jit
def uses_syncwarp(a, out):
    i = cuda.grid(1)
    out[i] = a[i]
    syncwarp_in_device_function()
    out[i] += a[i ^ 1]


def test_block_level_operations_in_device_functions_run_on_the_cpu():
    a = np.arange(32.0) ** 2
    out = np.zeros(32)
    uses_shfl[1, 32](a, out)
    np.testing.assert_array_equal(out, np.append(a[1:], a[31]))
    uses_syncwarp[1, 32](a, out)
    np.testing.assert_array_equal(out, a + a[np.arange(32) ^ 1])


@cuda.jit
def ember_scalar_types(out, x):
    out[0] = ember.float32(x) / 3
    out[1] = ember.int8(x * 100)


def test_ember_scalar_types_convert_in_kernels():
    out = np.zeros(2)
    ember_scalar_types[1, 1](out, 1.1)
    assert out[0] == np.float64(np.float32(np.float32(1.1) / np.float32(3)))
    assert out[1] == np.int8(110)


# ---------------------------------------------------------------------------
# Kernel-only names imported from ember.cuda
# ---------------------------------------------------------------------------

from ember.cuda import atomic, grid, local, syncthreads, threadIdx  # noqa: E402


@cuda.jit
def imported_names(out):
    i = grid(1)
    scratch = local.array(2, np.int64)
    scratch[0] = threadIdx.x
    if i < out.size:
        atomic.add(out, 0, scratch[0])


@cuda.jit
def imported_syncthreads(out):
    out[threadIdx.x] = threadIdx.x
    syncthreads()
    mirrored = out[3 - threadIdx.x]
    syncthreads()
    out[threadIdx.x] += mirrored * 10


def test_names_imported_from_ember_cuda_work_in_kernels():
    out = np.zeros(4, np.int64)
    imported_names[2, 4](out)
    assert out[0] == 0 + 1 + 2 + 3     # threads 0..3 of block 0 (i < 4)
    imported_syncthreads[1, 4](out)
    np.testing.assert_array_equal(out, np.arange(4) + 10 * np.arange(4)[::-1])


def test_kernel_only_names_refuse_host_calls():
    for name in ("syncthreads", "grid", "shfl_down_sync", "threadfence"):
        assert hasattr(cuda, name)
        with pytest.raises(TypeError, match=f"cuda.{name}.. can only be used inside a kernel"):
            getattr(cuda, name)()
    with pytest.raises(TypeError, match=r"cuda.atomic.add\(\) can only be used inside"):
        cuda.atomic.add(np.zeros(1), 0, 1)
    with pytest.raises(TypeError, match=r"cuda.local.array\(\)"):
        cuda.local.array(4, np.float32)
    assert repr(cuda.threadIdx.x) == "<ember kernel intrinsic cuda.threadIdx.x>"
    with pytest.raises(AttributeError, match="cuda.threadIdx has no attribute 'w'"):
        cuda.threadIdx.w


# ---------------------------------------------------------------------------
# Bounds checking (boundscheck=True, debug=True, EMBER_BOUNDSCHECK=1)
# ---------------------------------------------------------------------------

@cuda.jit(boundscheck=True)
def checked_copy(src, dst, shift):
    i = cuda.grid(1)
    if i < dst.size:
        dst[i] = src[i + shift]


@cuda.jit(debug=True)
def checked_row(a, r, out):
    row = a[r]
    out[0] = row[0]


@cuda.jit
def unchecked_copy(src, dst, shift):
    i = cuda.grid(1)
    if i < dst.size:
        dst[i] = src[i + shift]


def test_boundscheck_raises_index_error_with_location():
    src = np.arange(8.0)
    dst = np.zeros(8)
    checked_copy[1, 8](src, dst, 0)                  # in bounds: runs normally
    np.testing.assert_array_equal(dst, src)
    with pytest.raises(IndexError) as ei:
        checked_copy[1, 8](src, dst, 3)
    line = checked_copy.py_func.__code__.co_firstlineno + 4
    assert f"test_views_local_print.py:{line}:" in str(ei.value)
    assert "index out of bounds" in str(ei.value)
    # one of the threads whose i + 3 is past the end: 5, 6 or 7 of block 0
    assert re.search(r"in thread \([567], 0, 0\) of block \(0, 0, 0\)", str(ei.value))
    with pytest.raises(IndexError):
        checked_copy[1, 8](src, dst, -9)             # below -len: no wrap-around
    with pytest.raises(IndexError):
        checked_row[1, 1](np.zeros((3, 2)), 3, np.zeros(1))
    out = np.zeros(1)
    checked_row[1, 1](np.arange(6.0).reshape(3, 2), -1, out)
    assert out[0] == 4.0


def test_boundscheck_is_off_by_default_and_follows_the_environment(tmp_path):
    import os
    import subprocess
    import sys
    assert not unchecked_copy.boundscheck and checked_copy.boundscheck
    script = tmp_path / "oob.py"
    script.write_text("import numpy as np\n"
                      "from ember import cuda\n"
                      "@cuda.jit\n"
                      "def k(a, i):\n"
                      "    a[i] = 1\n"
                      "cuda.select_device('cpu')\n"
                      "try:\n"
                      "    k[1, 1](np.zeros(4), 4)\n"
                      "except IndexError as e:\n"
                      "    print('IndexError', e)\n")
    env = dict(os.environ, EMBER_BOUNDSCHECK="1",
               PYTHONPATH=os.path.dirname(os.path.dirname(ember.__file__)))
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                         text=True, timeout=120).stdout
    assert out.startswith("IndexError") and f"{script}:5:4: index out of bounds" in out


# ---------------------------------------------------------------------------
# Constant memory: cuda.const.array_like
# ---------------------------------------------------------------------------

WEIGHTS = np.array([0.25, 0.5, 0.25], np.float32)
TABLE = np.arange(12, dtype=np.int64).reshape(3, 4) ** 2


@cuda.jit
def convolve(x, out):
    i = cuda.grid(1)
    w = cuda.const.array_like(WEIGHTS)
    t = cuda.const.array_like(TABLE)
    if 1 <= i < x.size - 1:
        out[i] = w[0] * x[i - 1] + w[1] * x[i] + w[2] * x[i + 1] + t[2, 3] + t.shape[1]


@cuda.jit
def writes_const(out):
    w = cuda.const.array_like(WEIGHTS)
    w[0] = 1.0


@cuda.jit
def const_of_argument(out):
    w = cuda.const.array_like(out)
    out[0] = w[0]


def test_const_array_like_freezes_global_arrays():
    x = np.random.default_rng(7).random(64).astype(np.float32)
    out = np.zeros_like(x)
    convolve[2, 32](x, out)
    want = np.zeros_like(x)
    want[1:-1] = 0.25 * x[:-2] + 0.5 * x[1:-1] + 0.25 * x[2:] + TABLE[2, 3] + 4
    np.testing.assert_allclose(out, want, rtol=1e-6)
    with pytest.raises(TypingError, match="read-only"):
        writes_const[1, 1](np.zeros(1))
    with pytest.raises(TypingError, match="needs a global or closure NumPy array"):
        const_of_argument[1, 1](np.zeros(1))
