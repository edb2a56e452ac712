"""NumPy string arrays (dtype U: UCS4, S: bytes) and string fields of records
in kernels: a kernel can store a constant str / bytes into an item or a
field (numba's test_const_string.py), which writes the code units and
zero-fills the rest of the item, a longer constant cut to the item's length,
as NumPy's own assignment does; every result here is compared with that
assignment done by NumPy. Reading or comparing strings in a kernel is a
TypingError naming the kernel's file and line. The CUDA path is compiled to
PTX and assembled with ptxas."""

import numpy as np
import pytest

from ember import cuda, types
from ember.errors import TypingError

# constants shorter than, as long as, and longer than a 5-character item,
# the empty one, and non-ASCII text (UCS4 code units beyond Latin-1)
CASES = ["XYZ", "ABCDE", "ABCDEFGHIJ", "", "héllo wörld ∑"]


def _numpy_assigned(init, index, value):
    """init with init[index] = value done by NumPy."""
    ref = init.copy()
    ref[index] = value
    return ref


@pytest.mark.parametrize("text", CASES)
@pytest.mark.parametrize("kind", ["U", "S"])
def test_store_constant_into_string_array(kernel_device, kind, text):
    value = text if kind == "U" else text.encode("utf-8")
    ns = {"cuda": cuda}
    # the constant must be in the kernel's source: build one per case
    exec(f"def store(arr):\n    i = cuda.grid(1)\n    if i < len(arr) - 1:\n"
         f"        arr[i] = {value!r}\n", ns)
    kern = cuda.jit(ns["store"])
    dt = np.dtype(f"{kind}5")
    arr = np.array(["qqqqq" if kind == "U" else b"qqqqq"] * 6, dtype=dt)
    ref = _numpy_assigned(arr, slice(0, 5), value)
    kern[1, 8](arr)
    np.testing.assert_array_equal(arr, ref)
    # the bytes too: the rest of each item is zeros, not the old "qqqqq"
    assert arr.tobytes() == ref.tobytes()


@pytest.mark.parametrize("kind, xtype", [("U", np.int32), ("S", np.float32)])
def test_store_constant_into_record_field(kernel_device, kind, xtype):
    if kind == "U":
        @cuda.jit
        def f(a):
            a[0]['x'] = 1
            a[0]['y'] = 'ABC'
            a[1]['x'] = 2
            r = a[1]
            r.y = 'a longer text than twelve'
    else:
        @cuda.jit
        def f(a):
            a[0]['x'] = 1
            a[0]['y'] = b'ABC'
            a[1]['x'] = 2
            r = a[1]
            r.y = b'a longer text than twelve'
    dt = np.dtype([('x', xtype), ('y', f'{kind}12'), ('z', np.int16)])
    a = np.zeros(2, dt)
    a['y'] = 'old text' if kind == 'U' else b'old text'
    a['z'] = [7, 8]
    ref = a.copy()
    conv = (lambda s: s) if kind == "U" else (lambda s: s.encode())
    ref[0]['x'], ref[0]['y'] = 1, conv('ABC')
    ref[1]['x'], ref[1]['y'] = 2, conv('a longer text than twelve')
    f[1, 1](a)
    np.testing.assert_array_equal(a, ref)
    assert a.tobytes() == ref.tobytes()


def test_string_2d_array_item(cpu_device):
    @cuda.jit
    def f(a):
        a[1, 2] = "hi"

    a = np.full((3, 4), "xxxx", dtype="U4")
    ref = _numpy_assigned(a, (1, 2), "hi")
    f[1, 1](a)
    np.testing.assert_array_equal(a, ref)


def test_string_errors(cpu_device):
    @cuda.jit
    def read_item(a, out):
        out[0] = a[0]

    @cuda.jit
    def read_field(a, out):
        out[0] = a[0]['y']

    @cuda.jit
    def bytes_into_str(a):
        a[0] = b"XYZ"

    @cuda.jit
    def str_into_numbers(a):
        a[0] = "XYZ"

    @cuda.jit
    def str_into_number_field(a):
        a[0]['x'] = "XYZ"

    @cuda.jit
    def str_into_slice(a):
        a[0:2] = "XYZ"

    s = np.zeros(2, "U4")
    rec = np.zeros(2, [("x", np.int32), ("y", "U4")])
    with pytest.raises(TypingError, match=r"test_strings.py:\d+.*string array.*cannot be read"):
        read_item[1, 1](s, np.zeros(1))
    with pytest.raises(TypingError, match=r"test_strings.py:\d+.*field 'y' holds a string"):
        read_field[1, 1](rec, np.zeros(1))
    with pytest.raises(TypingError, match=r"test_strings.py:\d+.*bytes constant.*store a str"):
        bytes_into_str[1, 1](s)
    with pytest.raises(TypingError, match=r"test_strings.py:\d+.*str constant into float64"):
        str_into_numbers[1, 1](np.zeros(2))
    with pytest.raises(TypingError, match=r"test_strings.py:\d+.*str constant into int32"):
        str_into_number_field[1, 1](rec)
    with pytest.raises(TypingError, match=r"test_strings.py:\d+.*string constant can only"):
        str_into_slice[1, 1](s)
    ro = np.zeros(2, "U4")
    ro.flags.writeable = False
    with pytest.raises(TypingError, match=r"test_strings.py:\d+.*str constant into readonly "
                       r"\[unichr x 4\].*read-only"):
        _store_one[1, 1](ro)
    with pytest.raises(TypeError, match="byte order"):
        str_into_slice[1, 1](np.zeros(2, ">U4"))
    # nothing was written by the kernels that failed to compile
    assert (s == "").all()


@cuda.jit
def _store_one(a):
    a[0] = "x"


def _str_store(arr):
    i = cuda.grid(1)
    if i < len(arr):
        arr[i] = "XYZ"


def _rec_store(a):
    a[0]['x'] = 1.5
    a[0]['y'] = b'ABC'


@pytest.mark.parametrize("cc", [(8, 0), (9, 0)])
def test_ptx_of_string_stores(nvvm, ptxas, cc):
    from conftest import check_ptx
    t = types.from_dtype(np.dtype("U12"))
    assert str(t) == "[unichr x 12]"
    ptx, _ = cuda.compile_ptx(_str_store, (t[::1],), cc=cc)
    # 'X' 'Y' 'Z' as UCS4 code units, then zeros
    for code in (88, 89, 90):
        assert f", {code};" in ptx
    check_ptx(ptx, cc)
    rt = types.from_dtype(np.dtype([('x', np.float32), ('y', 'S12')]))
    ptx, _ = cuda.compile_ptx(_rec_store, (rt[::1],), cc=cc)
    check_ptx(ptx, cc)
