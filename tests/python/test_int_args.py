"""Python ints passed for integer kernel parameters.

A signed n-bit parameter (explicit signature) takes an int in
-2**(n-1) .. 2**n - 1: a value above the type's maximum is the bit pattern
it spells (0xFFFFFFFF for an int32 is -1), as numba's ctypes packing does
and as C programmers write masks; outside that range it is an
OverflowError naming the argument. Unsigned parameters take 0 .. 2**n - 1.
Without a signature an int is typed as numba's typeof does: int64, uint64
for 2**63 .. 2**64 - 1. The expected values come from NumPy's own
wrap-around (np.array(v, uint).view(int)), computed independently of the
kernel. Kernels run on the cpu device and (kernel_device) on a GPU where
there is one.
"""

import numpy as np
import pytest

from ember import cuda

SIGNED = [("int8", np.int8, np.uint8), ("int16", np.int16, np.uint16),
          ("int32", np.int32, np.uint32), ("int64", np.int64, np.uint64)]


def _store(name):
    @cuda.jit(f"void({name}[:], {name})")
    def store(out, v):
        out[0] = v
    return store


def _bit_pattern(v, sdt, udt):
    """``v`` (0 .. 2**n - 1, or a fitting negative) read as the signed type."""
    return np.array(v if v >= 0 else v + (1 << (8 * np.dtype(sdt).itemsize)),
                    dtype=udt).view(sdt)[()]


@pytest.mark.parametrize("name, sdt, udt", SIGNED)
def test_signed_parameter_takes_the_bit_pattern_range(kernel_device, name, sdt, udt):
    bits = 8 * np.dtype(sdt).itemsize
    store = _store(name)
    out = cuda.device_array(1, sdt)
    for v in [-(1 << (bits - 1)), -1, 0, (1 << (bits - 1)) - 1,  # the type's own range
              1 << (bits - 1), (1 << bits) - 1, 0xA5 << (bits - 8)]:  # bit patterns
        store[1, 1](out, v)
        assert out.copy_to_host()[0] == _bit_pattern(v, sdt, udt), v


@pytest.mark.parametrize("name, sdt, udt", SIGNED)
def test_signed_parameter_refuses_outside_the_range(kernel_device, name, sdt, udt):
    bits = 8 * np.dtype(sdt).itemsize
    store = _store(name)
    out = cuda.to_device(np.array([7], sdt))
    for v in [1 << bits, -(1 << (bits - 1)) - 1, 1 << 70]:
        with pytest.raises(OverflowError, match=rf"argument 2 \('v'\): {v} does not fit "
                                                rf"in {name}"):
            store[1, 1](out, v)
    assert out.copy_to_host()[0] == 7  # nothing ran


@pytest.mark.parametrize("name, bits", [("uint8", 8), ("uint32", 32), ("uint64", 64)])
def test_unsigned_parameter_range_is_unchanged(kernel_device, name, bits):
    store = _store(name)
    out = cuda.device_array(1, np.dtype(name))
    store[1, 1](out, (1 << bits) - 1)
    assert out.copy_to_host()[0] == np.iinfo(np.dtype(name)).max
    for v in [-1, 1 << bits]:
        with pytest.raises(OverflowError, match=f"does not fit in {name}"):
            store[1, 1](out, v)


def test_clz_and_ffs_of_int32_masks(kernel_device):
    """numba's test_intrinsics passes the masks as Python ints."""
    @cuda.jit("void(int32[:], int32)")
    def bits(out, c):
        out[0] = cuda.clz(c)
        out[1] = cuda.ffs(c)

    out = cuda.device_array(2, np.int32)
    for v in [0xFFFFFFFF, 0x80000000, 0x00100000, 0]:
        bits[1, 1](out, v)
        pattern = np.uint32(v)
        want_clz = 32 - int(pattern).bit_length()
        want_ffs = (int(pattern) & -int(pattern)).bit_length()
        np.testing.assert_array_equal(out.copy_to_host(), [want_clz, want_ffs])


def test_inferred_ints_follow_numbas_typeof(kernel_device):
    @cuda.jit
    def sign_and_value(out, v):
        out[0] = 1 if v > 0 else 0
        out[1] = v

    out = cuda.device_array(2, np.uint64)
    for v in [5, (1 << 63) - 1, 1 << 63, (1 << 64) - 1]:
        for _ in range(2):  # the second launch goes through the C fast path
            sign_and_value[1, 1](out, v)
            np.testing.assert_array_equal(out.copy_to_host(), [1, v])
    assert {sig[1] for sig in sign_and_value.signatures} == {"int64", "uint64"}
    for v in [1 << 64, -(1 << 63) - 1]:
        with pytest.raises(OverflowError, match="does not fit in int64"):
            sign_and_value[1, 1](out, v)


def test_ember_typeof_of_large_ints():
    from ember import types
    assert types.typeof(1 << 62) == types.int64
    assert types.typeof(1 << 63) == types.uint64
    assert types.typeof((1 << 64) - 1) == types.uint64
    assert types.typeof(-(1 << 63)) == types.int64
