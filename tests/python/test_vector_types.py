"""CUDA vector types as numba-cuda has them: ``cuda.float32x4`` (alias
``cuda.float4``) ... ten base types with 1 to 4 elements, built from numbers
and smaller vectors, read with ``.x .y .z .w``. In kernels a vector is a
tuple of its base type. Results are compared with the elements computed in
Python; conftest compiles each kernel to PTX for ptxas too.

On the host (ember's addition: numba's vector types are kernel-only) a
vector type makes a vector value, a tuple of NumPy scalars of its base type
with .x .y .z .w, which kernels and ember.jit functions take as an argument
(a tuple there too).

``ember.cuda.vector_types.vector_types`` is numba-cuda's table of them:
descriptors with .name .base_type .num_elements .user_facing_object, the
table the compiler reads."""

import numpy as np
import pytest

import ember
from ember import cuda
from ember._vector_types import ALIASES, BASES, VECTOR_TYPES
from ember.errors import TypingError


def test_names_and_aliases():
    assert len(VECTOR_TYPES) == 40
    assert cuda.float4 is cuda.float32x4 and cuda.double2 is cuda.float64x2
    assert cuda.short3 is cuda.int16x3 and cuda.uchar1 is cuda.uint8x1
    assert cuda.longlong4 is cuda.int64x4 and cuda.ulong2 is cuda.uint64x2
    assert cuda.float32x3.num_elements == 3 and "float3" in cuda.float32x3.aliases
    from ember.cuda import int32x4  # noqa: F401


def _c_aliases():
    """{base type name: [C names]} from NumPy's C types (numba-cuda's rule)."""
    ctypes = {"char": np.byte, "short": np.short, "int": np.intc, "long": np.int_,
              "longlong": np.longlong, "uchar": np.ubyte, "ushort": np.ushort,
              "uint": np.uintc, "ulong": np.uint, "ulonglong": np.ulonglong,
              "float": np.single, "double": np.double}
    out = {}
    for c, t in ctypes.items():
        out.setdefault(np.dtype(t).name, []).append(c)
    return out


def test_descriptor_table():
    from ember.cuda.vector_types import vector_types
    from ember._compiler import frontend
    # one table: numba's name for it, the compiler's and ember.cuda's
    assert vector_types is VECTOR_TYPES and frontend._VECTOR_TYPES is VECTOR_TYPES
    c_names = _c_aliases()
    seen = set()
    for name, vt in vector_types.items():
        base, _, n = name.partition("x")
        assert vt.name == name and vt.num_elements == int(n)
        assert vt.base_type is getattr(ember.types, base)
        assert vt.base_type(3) == np.dtype(base).type(3)
        assert vt.attr_names == ("x", "y", "z", "w")[:int(n)]
        ufo = vt.user_facing_object
        assert ufo is getattr(cuda, name) and ufo.name == name and ufo.num_elements == int(n)
        assert ufo.aliases == [f"{c}{n}" for c in c_names.get(base, [])]
        for alias in ufo.aliases:
            assert getattr(cuda, alias) is ufo and ALIASES[alias] == name
        seen.add(base)
    assert seen == set(BASES) and len(ALIASES) == 12 * 4


def test_descriptors_in_kernels(cpu_device):
    """A kernel made from a descriptor (as numba's tests make them): its
    base_type and user_facing_object as closure values."""
    from ember.cuda.vector_types import vector_types
    vt = vector_types["uint16x3"]
    vobj, bt = vt.user_facing_object, vt.base_type

    @cuda.jit
    def k(res):
        v = vobj(bt(70000), bt(2), bt(3.7))
        res[0], res[1], res[2] = v.x, v.y, v.z

    res = np.zeros(3, np.int64)
    k[1, 1](res)
    want = np.array([70000, 2, 3.7]).astype(np.uint16)   # bt(x) casts as NumPy's astype
    np.testing.assert_array_equal(res, want)


@pytest.mark.parametrize("name", sorted(VECTOR_TYPES))
def test_construct_and_read(cpu_device, name):
    base, n = VECTOR_TYPES[name].base, VECTOR_TYPES[name].num_elements
    vt = getattr(cuda, name)
    bt = getattr(ember.types, base)
    if n == 1:
        def body(res):
            v = vt(bt(7))
            res[0] = v.x
    elif n == 2:
        def body(res):
            v = vt(bt(7), 9)
            res[0], res[1] = v.x, v.y
    elif n == 3:
        def body(res):
            v = vt(bt(7), 9, 100.75)
            res[0], res[1], res[2] = v.x, v.y, v.z
    else:
        def body(res):
            v = vt(bt(7), 9, 100.75, 5)
            res[0], res[1], res[2], res[3] = v.x, v.y, v.z, v.w
    res = np.zeros(n, np.dtype(base))
    cuda.jit(body)[1, 1](res)
    want = np.array([7, 9, 100.75, 5][:n]).astype(np.dtype(base))  # the casts NumPy makes
    np.testing.assert_array_equal(res, want)


@pytest.mark.parametrize("base", ["float32", "int16", "uint64", "float64"])
def test_built_from_smaller_vectors(cpu_device, base):
    bt = getattr(ember.types, base)
    v1, v2, v3, v4 = (getattr(cuda, f"{base}x{n}") for n in (1, 2, 3, 4))

    @cuda.jit
    def k(res):
        one, two, three, four = bt(1), bt(2), bt(3), bt(4)
        a1 = v1(one)
        a2 = v2(two, a1)
        a3 = v3(a2, three)
        j = 0
        for v in (v2(a1, three), v2(a2)):
            res[j] = v.x
            res[j + 1] = v.y
            j += 2
        for u in (v3(one, a2), v3(a1, a1, four), v3(a3)):
            res[j] = u.x
            res[j + 1] = u.y
            res[j + 2] = u.z
            j += 3
        for w in (v4(a2, a2), v4(a3, four), v4(four, a3), v4(a1, a2, one),
                  v4(v2(three, four), a2), v4(a1, a1, a1, a1)):
            res[j] = w.x
            res[j + 1] = w.y
            res[j + 2] = w.z
            res[j + 3] = w.w
            j += 4

    res = np.zeros(37, np.dtype(base))
    k[1, 1](res)
    a1, a2, a3 = [1], [2, 1], [2, 1, 3]
    want = [[1, 3], a2, [1, 2, 1], [1, 1, 4], a3]
    want += [a2 + a2, a3 + [4], [4] + a3, a1 + a2 + [1], [3, 4] + a2, a1 * 4]
    np.testing.assert_array_equal(res, np.concatenate(want).astype(base))


def test_vectors_through_device_functions(cpu_device):
    @cuda.jit(device=True)
    def dot3(a, b):
        return a.x * b.x + a.y * b.y + a.z * b.z

    @cuda.jit(device=True)
    def scaled(v, s):
        return cuda.float32x3(v.x * s, v.y * s, v.z * s)

    @cuda.jit
    def k(xyz, out):
        i = cuda.grid(1)
        if i < out.size:
            p = cuda.float32x3(xyz[i, 0], xyz[i, 1], xyz[i, 2])
            q = scaled(p, 2.0)
            out[i] = dot3(p, q)

    xyz = np.random.default_rng(0).uniform(-1, 1, (100, 3)).astype(np.float32)
    out = np.zeros(100, np.float32)
    k[1, 128](xyz, out)
    q = xyz * np.float32(2.0)
    want = xyz[:, 0] * q[:, 0] + xyz[:, 1] * q[:, 1] + xyz[:, 2] * q[:, 2]
    np.testing.assert_allclose(out, want, rtol=1e-6)


def test_errors(cpu_device):
    @cuda.jit
    def too_few(res):
        v = cuda.float32x4(1.0, 2.0)
        res[0] = v.x

    @cuda.jit
    def no_w(res):
        v = cuda.int32x2(1, 2)
        res[0] = v.w

    with pytest.raises(TypingError, match=r"test_vector_types.py:\d+.*needs 4 elements.*2 given"):
        too_few[1, 1](np.zeros(1, np.float32))
    with pytest.raises(TypingError, match="a vector of 2 elements has no attribute 'w'"):
        no_w[1, 1](np.zeros(1, np.int32))


# --- vectors made on the host, as kernel arguments --------------------------

def test_host_vectors():
    v = cuda.float32x4(1, 2.5, 3, 4)
    assert isinstance(v, tuple) and v == (1.0, 2.5, 3.0, 4.0)
    assert all(type(e) is np.float32 for e in v) and (v.x, v.y, v.z, v.w) == v
    assert repr(v) == "float32x4(1.0, 2.5, 3.0, 4.0)"
    w = cuda.short3(cuda.int2(-3, 4), 5)            # vectors give their elements
    assert w == (-3, 4, 5) and all(type(e) is np.int16 for e in w)
    assert cuda.double2(cuda.float2(0.1, 1)).x == np.float64(np.float32(0.1))
    import pickle
    back = pickle.loads(pickle.dumps(v))
    assert back == v and type(back) is type(v)
    with pytest.raises(AttributeError):
        cuda.float2(1, 2).z
    with pytest.raises(TypeError, match=r"cuda.float32x2\(\) needs 2 elements.*1 given"):
        cuda.float32x2(1)
    with pytest.raises(TypeError, match="int32 elements are integers, not 1.5"):
        cuda.int32x2(1.5, 2)
    with pytest.raises(OverflowError, match="300 does not fit in uint8"):
        cuda.uchar2(300, 1)
    with pytest.raises(TypeError, match="elements are real numbers or vectors, not str"):
        cuda.float2("a", 1)
    with pytest.raises(TypeError, match="not complex"):
        cuda.float2(1j, 1)


@cuda.jit(device=True)
def _scaled(v, s):
    return cuda.float32x4(v.x * s, v.y * s, v.z * s, v.w * s)


@cuda.jit
def _vector_args(v, n, out):
    w = _scaled(v, n.x)            # a vector argument into, and out of, a device function
    out[0], out[1], out[2], out[3] = w.x, w.y, w.z, w.w
    out[4] = n.x + n.y


def test_vectors_as_kernel_arguments(kernel_device):
    out = np.zeros(5, np.float32)
    v, n = cuda.float4(1.5, -2, 3, 0.25), cuda.int2(3, 4)
    _vector_args[1, 1](v, n, out)
    np.testing.assert_array_equal(out, [4.5, -6, 9, 0.75, 7])
    sig, = _vector_args.signatures
    assert sig[:2] == (("tuple", ("float32",) * 4), ("tuple", ("int32", "int32")))
    before = _vector_args._fastpath_hits
    _vector_args[1, 1](cuda.float4(1, 1, 1, 1), cuda.int2(-1, 0), out)   # from C now
    np.testing.assert_array_equal(out, [-1, -1, -1, -1, -1])
    if kernel_device == "cpu":
        assert _vector_args._fastpath_hits == before + 1

    @ember.jit
    def length2(p):
        return p.x * p.x + p.y * p.y + p.z * p.z

    assert length2(cuda.double3(1, 2, 3)) == 14.0


def test_vector_arguments_packed_for_the_cuda_driver(fake_cuda_lib, nvvm):
    """On a CUDA device (the fake driver): each element of a vector argument
    is a scalar in an 8-byte slot of the packed arguments, as a tuple's."""
    from conftest import run_python
    proc = run_python(r'''
import ctypes, os, struct
import numpy as np
from ember import cuda
fake = ctypes.CDLL(os.environ["EMBER_CUDA_DRIVER"])
params = ctypes.create_string_buffer(4096)
size = ctypes.c_size_t()

@cuda.jit
def k(v, n, x):
    x[0] = v.x + v.w + n.y

cuda.select_device(0)
x = cuda.device_array(1, np.float32)
k[1, 1](cuda.float4(1.5, 2, 3, 4.5), cuda.short2(7, -9), x)
fake.fake_cuda_last_launch((ctypes.c_uint * 7)(), ctypes.byref(ctypes.c_void_p()), params,
                           ctypes.c_size_t(4096), ctypes.byref(size),
                           ctypes.create_string_buffer(256), ctypes.c_size_t(256))
raw = params.raw[:size.value]
assert len(raw) == 9 * 8, len(raw)
assert [struct.unpack_from("<f", raw, 8 * i)[0] for i in range(4)] == [1.5, 2, 3, 4.5]
assert [struct.unpack_from("<h", raw, 8 * i)[0] for i in (4, 5)] == [7, -9]
assert struct.unpack_from("<3q", raw, 48) == (x.device_pointer, 1, 4)
print("ok")
''', {"EMBER_CUDA_DRIVER": fake_cuda_lib, "FAKE_CUDA_DEVICES": "1"})
    assert proc.stdout.strip().endswith("ok")


def _all_construction_forms(v1, v2, v3, v4, bt):
    """A kernel body building each size of vector from every mix of numbers
    and smaller vectors (numba's test_fancy_creation_readout); one loop
    variable `v` holds 2-, 3- then 4-vectors. Runs in Python too (host
    vectors)."""
    def body(res):
        one, two, three, four = bt(1.0), bt(2.0), bt(3.0), bt(4.0)
        a1 = v1(one)
        a2 = v2(two, three)
        a3 = v3(a2, one)
        a4 = v4(one, two, three, four)
        res[0] = v1(a1).x
        j = 1
        for v in (v2(two, three), v2(a1, three), v2(two, a1), v2(a1, a1), v2(a2)):
            res[j] = v.x
            res[j + 1] = v.y
            j += 2
        for v in (v3(a2, one), v3(a2, a1), v3(one, a2), v3(a1, a2), v3(one, two, three),
                  v3(a1, two, three), v3(one, a1, three), v3(one, two, a1),
                  v3(a1, a1, a1), v3(a3)):
            res[j] = v.x
            res[j + 1] = v.y
            res[j + 2] = v.z
            j += 3
        for v in (v4(one, two, three, four), v4(a1, two, a1, four), v4(a2, two, three),
                  v4(one, a2, a1), v4(a1, four, a2), v4(a2, a2), v4(a3, four),
                  v4(four, a3), v4(a1, a3), v4(a4), v4(a1, a1, a1, a1)):
            res[j] = v.x
            res[j + 1] = v.y
            res[j + 2] = v.z
            res[j + 3] = v.w
            j += 4
    return body


@pytest.mark.parametrize("base", ["int8", "uint32", "int64", "float32", "float64"])
def test_construction_forms_match_python(cpu_device, base):
    from ember.cuda.vector_types import vector_types
    vts = [vector_types[f"{base}x{n}"] for n in (1, 2, 3, 4)]
    body = _all_construction_forms(*(vt.user_facing_object for vt in vts), vts[0].base_type)
    n = 1 + 5 * 2 + 10 * 3 + 11 * 4
    want = np.zeros(n, np.float64)
    body(want)                       # plain Python, with host vectors
    res = np.zeros(n, np.float64)
    cuda.jit(body)[1, 1](res)
    np.testing.assert_array_equal(res, want)
    assert want.min() == 1 and want.max() == 4   # every slot written
