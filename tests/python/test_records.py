"""Records: NumPy structured dtypes in kernels, as numba.cuda has them
(spec: numba/cuda/tests/cudapy/test_record_dtype.py). Arrays of records and
single records as arguments, field reads and writes (r.x, r['x'],
a[i].x = v, r.x += v), nested arrays in a field, record assignment
(a[i] = b[j]). A record is a reference into its array, as in numba, and
a single record argument is written back. Each result is compared with
the same function run by NumPy; conftest compiles each kernel to PTX too."""

import numpy as np
import pytest

import ember
from ember import cuda
from ember.errors import TypingError

recordtype = np.dtype([("a", np.float64), ("b", np.int32), ("c", np.complex64),
                       ("d", (np.uint8, 5))], align=True)
recordwitharray = np.dtype([("g", np.int32), ("h", np.float32, 2)], align=True)
recordwith2darray = np.dtype([("i", np.int32), ("j", np.float32, (3, 2))])  # packed
nested_array1_dtype = np.dtype([("array1", np.int16, (3,))], align=True)


def _sample():
    ary = np.recarray(3, dtype=recordtype)
    for i in range(ary.size):
        x = i + 1
        ary[i]["a"] = x / 2
        ary[i]["b"] = x
        ary[i]["c"] = x * 1j
        ary[i]["d"] = [x, 2 * x, 3 * x, 4 * x, 5 * x]
    return ary


def set_a(ary, i, v):
    ary[i].a = v


def set_b(ary, i, v):
    ary[i].b = v


def set_c(ary, i, v):
    ary[i].c = v


def set_record(ary, i, j):
    ary[i] = ary[j]


@pytest.mark.parametrize("pyfunc, value", [(set_a, 3.1415), (set_a, np.float32(3.0)),
                                           (set_b, 123), (set_b, 123.0),
                                           (set_c, 43j), (set_c, np.complex64(43j))])
def test_set_field(cpu_device, pyfunc, value):
    cfunc = cuda.jit(pyfunc)
    for i in range(3):
        got = _sample()
        expect = got.copy()
        cfunc[1, 1](got, i, value)
        pyfunc(expect, i, value)
        assert np.all(expect == got)  # the whole array: nothing else was written


def test_set_record(cpu_device):
    cfunc = cuda.jit(set_record)
    for i, j in [(0, 1), (1, 2), (0, 2), (1, 1)]:
        expect = _sample()
        set_record(expect, i, j)
        got = _sample()
        cfunc[1, 1](got, i, j)
        assert got[i] == got[j] and np.all(expect == got)


def test_fields_by_name_reference_semantics_and_nested_arrays(cpu_device):
    @cuda.jit
    def k(ary, out):
        i = cuda.grid(1)
        if i < ary.size:
            r = ary[i]                     # a reference into ary
            out[i] = r.a + r["b"] + ary[i].c.imag + r.d[4]
            r["a"] += 1
            r.b *= 10
            r.d[1] = i + 7
            r.c = r.c * 2j

    got = _sample()
    expect = got.copy()
    out = np.zeros(3)
    k[1, 4](got, out)
    np.testing.assert_array_equal(out, expect.a + expect.b + expect.c.imag + expect.d[:, 4])
    expect.a += 1
    expect.b *= 10
    expect.d[:, 1] = np.arange(3) + 7
    expect.c = expect.c * 2j
    assert np.all(expect == got)


def record_set_a(r, v):
    r.a = v


def record_set_b(r, v):
    r.b = v


def record_set_c(r, v):
    r.c = v


def record_read_a(r, arr):
    arr[0] = r.a


def record_read_c(r, arr):
    arr[0] = r.c


@pytest.mark.parametrize("pyfunc, field, v", [(record_set_a, "a", np.float64(1.5)),
                                              (record_set_b, "b", np.int32(2)),
                                              (record_set_c, "c", np.complex64(4 + 5j))])
def test_record_argument_is_written_back(cpu_device, pyfunc, field, v):
    sample = _sample()
    rec = sample[1]            # a view of the array's second record
    cuda.jit(pyfunc)[1, 1](rec, v)
    np.testing.assert_equal(rec[field], v)
    np.testing.assert_equal(sample[1][field], v)
    np.testing.assert_equal(sample[0], _sample()[0])  # its neighbours untouched


@pytest.mark.parametrize("pyfunc, field, v", [(record_read_a, "a", np.float64(1.5)),
                                              (record_read_c, "c", np.complex64(4 + 5j))])
def test_record_argument_read(cpu_device, pyfunc, field, v):
    rec = _sample().copy()[0]
    rec[field] = v
    arr = np.zeros(1, v.dtype)
    cuda.jit(pyfunc)[1, 1](rec, arr)
    np.testing.assert_equal(arr[0], v)


def record_write_array(r):
    r.g = 2
    r.h[0] = 3.0
    r.h[1] = 4.0


def record_write_2d_array(r):
    r.i = 3
    r.j[0, 0] = 5.0
    r.j[0, 1] = 6.0
    r.j[1, 0] = 7.0
    r.j[1, 1] = 8.0
    r.j[2, 0] = 9.0
    r.j[2, 1] = 10.0


def record_read_2d_array(r, a):
    for i in range(3):
        for j in range(2):
            a[i, j] = r.j[i, j]


def test_nested_arrays_in_a_record(cpu_device):
    rec = np.recarray(1, dtype=recordwitharray)[0]
    rec.g = 0
    rec.h[:] = 0
    cuda.jit(record_write_array)[1, 1](rec)
    expected = np.zeros(1, recordwitharray)[0]
    expected["g"] = 2
    expected["h"][:] = [3.0, 4.0]
    np.testing.assert_equal(expected, rec)

    rec2 = np.zeros(1, dtype=recordwith2darray)[0]
    cuda.jit(record_write_2d_array)[1, 1](rec2)
    np.testing.assert_equal(rec2["i"], 3)
    np.testing.assert_equal(rec2["j"], np.arange(5.0, 11.0, dtype=np.float32).reshape(3, 2))
    a = np.zeros((3, 2), np.float32)
    cuda.jit(record_read_2d_array)[1, 1](rec2, a)
    np.testing.assert_equal(a, rec2["j"])


def test_whole_nested_array_assignment(cpu_device):
    @cuda.jit
    def k(dest, src):
        dest[0]["array1"] = src            # broadcast into the field's array
        dest[1].array1[:] = 7

    dest = np.zeros(2, nested_array1_dtype)
    src = np.array([3, 4, 5], np.int16)
    k[1, 1](dest, src)
    np.testing.assert_array_equal(dest["array1"], [[3, 4, 5], [7, 7, 7]])


def test_arrays_of_records_2d_strided_and_on_device_types(cpu_device):
    @cuda.jit
    def k(grid2d, out):
        i, j = cuda.grid(2)
        if i < grid2d.shape[0] and j < grid2d.shape[1]:
            out[i, j] = grid2d[i, j].a * grid2d[i, j].b

    base = np.zeros((4, 6), recordtype)
    base["a"] = np.arange(24).reshape(4, 6) / 4
    base["b"] = np.arange(24).reshape(4, 6) % 5
    for view in (base, base[:, ::2], base.T):
        out = np.zeros(view.shape)
        k[(1, 1), (8, 8)](view, out)
        np.testing.assert_array_equal(out, view["a"] * view["b"])
    assert ember.typeof(base).ndim == 2


def test_record_errors(cpu_device):
    @cuda.jit
    def no_field(ary):
        ary[0].zz = 1

    @cuda.jit
    def store_record_into_numbers(ary, nums):
        nums[0] = ary[0]

    with pytest.raises(TypingError, match=r"test_records.py:\d+.*no field 'zz'"):
        no_field[1, 1](_sample())
    with pytest.raises(TypingError, match=r"cannot store Record"):
        store_record_into_numbers[1, 1](_sample(), np.zeros(1))
    with pytest.raises(TypeError, match="field 'n'.*not supported"):
        no_field[1, 1](np.zeros(1, [("n", [("m", np.int8)])]))


CONST_RECORD = np.array([(1.0, 2), (3.0, 4), (5.5, -6)],
                        dtype=[("x", np.float64), ("y", np.int64)])
CONST_RECORD_ALIGN = np.array([(1, 2.0, 3, 4.0, 5)] * 3, dtype=np.dtype(
    [("a", np.uint8), ("b", np.float64), ("c", np.uint8), ("d", np.float32),
     ("e", np.int16)], align=True))


def test_records_in_constant_memory(cpu_device):
    """numba's test_constmem cuconstRec / cuconstRecAlign."""
    @cuda.jit
    def rec(A, B):
        C = cuda.const.array_like(CONST_RECORD)
        i = cuda.grid(1)
        if i < A.size:
            A[i] = C[i]["x"]
            B[i] = C[i].y

    @cuda.jit
    def rec_align(A, B, C, D, E):
        Z = cuda.const.array_like(CONST_RECORD_ALIGN)
        i = cuda.grid(1)
        if i < A.size:
            A[i] = Z[i]["a"]
            B[i] = Z[i]["b"]
            C[i] = Z[i].c
            D[i] = Z[i].d
            E[i] = Z[i].e

    A, B = np.zeros(3), np.zeros(3, np.int64)
    rec.specialize(A, B)[1, 3](A, B)
    np.testing.assert_array_equal(A, CONST_RECORD["x"])
    np.testing.assert_array_equal(B, CONST_RECORD["y"])
    outs = [np.zeros(3, CONST_RECORD_ALIGN.dtype[f]) for f in "abcde"]
    rec_align[1, 3](*outs)
    for f, o in zip("abcde", outs):
        np.testing.assert_array_equal(o, CONST_RECORD_ALIGN[f])

    @cuda.jit
    def write_const(A):
        C = cuda.const.array_like(CONST_RECORD)
        C[0].x = 1.0

    with pytest.raises(TypingError, match="read-only"):
        write_const[1, 1](np.zeros(1))


def test_field_by_number_and_recarray_mixing(cpu_device):
    """numba's test_getitem_idx: r[0] is the first field; a record of an
    np.recarray (whose dtype lost NumPy's align flag) stores into a plain
    structured array of the same layout."""
    @cuda.jit(device=True)
    def first(ary):
        return ary[0]

    @cuda.jit
    def k(recs, out, firsts):
        out[0] = first(recs)           # a record from the recarray
        firsts[0] = first(recs[1])     # the second record's field 0

    recs = np.recarray(2, dtype=recordwitharray)
    recs[0] = np.array([(1, (2, 3))], dtype=recordwitharray)[0]
    recs[1] = np.array([(7, (8, 9))], dtype=recordwitharray)[0]
    out = np.zeros(1, recordwitharray)
    firsts = np.zeros(1, np.int32)
    k[1, 1](recs, out, firsts)
    assert out[0] == recs[0] and firsts[0] == 7


def test_a_field_of_an_array_of_records_is_a_view(cpu_device):
    """numba (its issue 4111): x.value1 of a record array in a kernel is the
    strided view of that field, read and written as an array."""
    a = np.recarray((16,), dtype=[("value1", np.int64), ("value2", np.float64)])
    a.value1 = np.arange(16)
    a.value2 = np.arange(16) / 100
    want2 = a.value2 * 2

    @cuda.jit
    def k(x, out1, out2):
        i = cuda.grid(1)
        if i < x.size:
            out1[i] = x.value1[i]
            out2[i] = x.value2[i] + x.value1.shape[0] * 0
            x.value2[i] = 2 * x.value2[i]

    g1, g2 = np.zeros(16, np.int64), np.zeros(16)
    k[1, 16](a, g1, g2)
    np.testing.assert_array_equal(g1, np.arange(16))
    np.testing.assert_array_equal(g2, np.arange(16) / 100)
    np.testing.assert_array_equal(a.value2, want2)
    np.testing.assert_array_equal(a.value1, np.arange(16))   # the other field untouched

    grid = np.zeros((3, 4), dtype=[("a", np.int32), ("b", np.float32)])
    grid["a"] = np.arange(12).reshape(3, 4)

    @cuda.jit
    def k2(x):
        i, j = cuda.grid(2)
        if i < x.shape[0] and j < x.shape[1]:
            x.b[i, j] = x.a[i, j] * 0.5

    k2[(1, 1), (3, 4)](grid)
    np.testing.assert_array_equal(grid["b"], np.arange(12).reshape(3, 4) * 0.5)


def test_field_views_that_cannot_be_arrays_are_typing_errors(cpu_device):
    nested = np.zeros(4, dtype=[("v", np.float64, (2,)), ("n", np.int32)])
    packed = np.zeros(4, dtype=np.dtype([("c", np.int8), ("x", np.float64)], align=False))

    @cuda.jit
    def k(x, out):
        out[0] = x.v[0, 0]

    with pytest.raises(TypingError, match=r"a\.v: a view of a nested array"):
        k[1, 1](nested, np.zeros(1))

    @cuda.jit
    def k2(x, out):
        out[0] = x.x[0]

    with pytest.raises(TypingError, match=r"a\.x: the field is not aligned"):
        k2[1, 1](packed, np.zeros(1))

    @cuda.jit
    def k3(x, out):
        out[0] = x.nothere[0]

    with pytest.raises(TypingError, match="have no field 'nothere'"):
        k3[1, 1](nested, np.zeros(1))
