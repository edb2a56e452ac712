"""ember.cuda.random: numba's xoroshiro128+ generators, checked against an
independent pure-Python xoroshiro128+ (Python ints) and for distribution.
The states are a device array of numba's record dtype (s0, s1 uint64)."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from ember import cuda
from ember.cuda.devicearray import DeviceRecord
from ember.cuda.random import (create_xoroshiro128p_states, init_xoroshiro128p_states,
                               xoroshiro128p_dtype, xoroshiro128p_normal_float32,
                               xoroshiro128p_normal_float64, xoroshiro128p_uniform_float32,
                               xoroshiro128p_uniform_float64)

# numba.cuda.random's dtype, written out
NUMBA_DTYPE = np.dtype([("s0", np.uint64), ("s1", np.uint64)], align=True)

M = (1 << 64) - 1


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M


def nxt(s):
    s0, s1 = s
    r = (s0 + s1) & M
    s1 ^= s0
    s[0] = rotl(s0, 55) ^ s1 ^ ((s1 << 14) & M)
    s[1] = rotl(s1, 36)
    return r


def jump(s):
    t0 = t1 = 0
    for j in (0xBEAC0467EBA5FACB, 0xD86B048B86AA9922):
        for b in range(64):
            if j & (1 << b):
                t0 ^= s[0]
                t1 ^= s[1]
            nxt(s)
    s[0], s[1] = t0, t1


def splitmix(x):
    z = (x + 0x9E3779B97F4A7C15) & M
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return z ^ (z >> 31)


def reference_states(n, seed):
    z = splitmix(seed)
    s = [z, z]  # numba 0.56: both words are SplitMix64 of the seed
    out = [list(s)]
    for _ in range(1, n):
        jump(s)
        out.append(list(s))
    return out


@pytest.fixture(autouse=True)
def _dev(kernel_device):
    yield


@cuda.jit
def draw(states, u32, u64, norm):
    i = cuda.grid(1)
    if i < u32.shape[0]:
        for k in range(u32.shape[1]):
            u32[i, k] = xoroshiro128p_uniform_float32(states, i)
            u64[i, k] = xoroshiro128p_uniform_float64(states, i)
            norm[i, k] = xoroshiro128p_normal_float32(states, i)


def test_states_and_draws_match_the_reference():
    n, k = 8, 5
    states = create_xoroshiro128p_states(n, seed=42)
    ref = reference_states(n, 42)
    host = states.copy_to_host()
    np.testing.assert_array_equal(host["s0"], [s0 for s0, _ in ref])
    np.testing.assert_array_equal(host["s1"], [s1 for _, s1 in ref])
    u32 = np.zeros((n, k), np.float32)
    u64 = np.zeros((n, k))
    norm = np.zeros((n, k), np.float32)
    draw[1, 8](states, u32, u64, norm)
    for i in range(n):
        s = list(ref[i])
        for j in range(k):
            assert u32[i, j] == np.float32((nxt(s) >> 11) * 2.0 ** -53)
            assert u64[i, j] == (nxt(s) >> 11) * 2.0 ** -53
            a = np.float32((nxt(s) >> 11) * 2.0 ** -53)   # float32 uniforms, as numba
            b = np.float32((nxt(s) >> 11) * 2.0 ** -53)
            assert norm[i, j] == pytest.approx(
                math.sqrt(-2 * math.log(a)) * math.cos(2 * math.pi * b), rel=1e-5)


@cuda.jit
def monte_carlo_pi(states, hits):
    i = cuda.grid(1)
    if i < hits.size:
        n = 0
        for _ in range(1000):
            x = xoroshiro128p_uniform_float32(states, i)
            y = xoroshiro128p_uniform_float32(states, i)
            if x * x + y * y <= 1.0:
                n += 1
        hits[i] = n


def test_monte_carlo_pi():
    states = create_xoroshiro128p_states(256, seed=1)
    hits = np.zeros(256, np.int64)
    monte_carlo_pi[2, 128](states, hits)
    assert abs(4 * hits.sum() / (256 * 1000) - math.pi) < 0.02
    assert len(set(hits.tolist())) > 50          # the threads' streams differ


@cuda.jit
def via_module(states, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = cuda.random.xoroshiro128p_uniform_float64(states, i)


def test_functions_reached_through_cuda_random():
    states = create_xoroshiro128p_states(4, seed=3)
    out = np.zeros(4)
    via_module[1, 4](states, out)
    ref = reference_states(4, 3)
    np.testing.assert_array_equal(out, [(nxt(list(s)) >> 11) * 2.0 ** -53 for s in ref])


def test_states_are_records_of_numbas_dtype():
    assert xoroshiro128p_dtype == NUMBA_DTYPE and xoroshiro128p_dtype.itemsize == 16
    states = create_xoroshiro128p_states(10, seed=1)
    assert states.dtype == NUMBA_DTYPE and states.shape == (10,)
    host = states.copy_to_host()
    assert len(np.unique(host)) == 10               # numba's test_create: 10 records
    assert isinstance(states[3], DeviceRecord)
    assert (states[3]["s0"], states[3]["s1"]) == tuple(host[3])
    later = create_xoroshiro128p_states(10, seed=1, subsequence_start=3).copy_to_host()
    np.testing.assert_array_equal(host[3:], later[:-3])
    s = cuda.stream()
    on_stream = create_xoroshiro128p_states(10, seed=1, stream=s)
    s.synchronize()
    np.testing.assert_array_equal(on_stream.copy_to_host(), host)
    again = cuda.device_array(10, dtype=xoroshiro128p_dtype)
    init_xoroshiro128p_states(again, seed=1)
    np.testing.assert_array_equal(again.copy_to_host(), host)
    assert create_xoroshiro128p_states(0, seed=1).shape == (0,)


def test_init_refuses_other_arrays():
    with pytest.raises(TypeError, match="1-D array of xoroshiro128p_dtype.*2-D of uint64"):
        init_xoroshiro128p_states(cuda.device_array((4, 2), np.uint64), seed=1)
    with pytest.raises(ValueError, match="n must be >= 0"):
        create_xoroshiro128p_states(-1, seed=1)


@cuda.jit
def read_fields(states, out):
    i = cuda.grid(1)
    if i < states.shape[0]:
        out[i, 0] = states[i].s0
        out[i, 1] = states[i]["s1"]


def test_kernels_read_the_fields():
    states = create_xoroshiro128p_states(6, seed=9)
    out = np.zeros((6, 2), np.uint64)
    read_fields[1, 8](states, out)
    ref = reference_states(6, 9)
    np.testing.assert_array_equal(out, np.array(ref, np.uint64))


@cuda.jit
def fill(states, out, count, normal):
    t = cuda.grid(1)
    for j in range(count):
        if normal:
            out[t * count + j] = xoroshiro128p_normal_float64(states, t)
        else:
            out[t * count + j] = xoroshiro128p_uniform_float32(states, t)


def test_distributions_as_numbas_tests_check_them():
    """numba's check_uniform / check_normal bounds on 64 x 32 draws."""
    states = create_xoroshiro128p_states(64, seed=1)
    u = np.zeros(64 * 32)
    fill[2, 32](states, u, 32, False)
    assert abs(u.min()) < 1e-3 and abs(u.max() - 1) < 1e-3
    assert abs(u.mean() - 0.5) < 1.5e-2 and abs(u.std() - 1 / (2 * math.sqrt(3))) < 6e-3
    z = np.zeros(64 * 32)
    fill[2, 32](states, z, 32, True)
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05


def test_cuda_path_through_the_fake_driver(fake_cuda_lib, nvvm):
    """On a CUDA device the states are seeded on the host and copied in; a
    kernel gets them as a record array {pointer, n, 16}."""
    code = r'''
import ctypes, os, struct
import numpy as np
from ember import cuda
from ember.cuda.random import create_xoroshiro128p_states, xoroshiro128p_uniform_float32
cuda.select_device(0)
states = create_xoroshiro128p_states(5, seed=42)
assert states.device.kind == "cuda" and states.dtype.names == ("s0", "s1")
print(" ".join(str(int(x)) for x in states.copy_to_host().view(np.uint64)))

@cuda.jit
def k(states, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = xoroshiro128p_uniform_float32(states, i)

out = cuda.device_array(5, np.float32)
k[1, 8](states, out)
fake = ctypes.CDLL(os.environ["EMBER_CUDA_DRIVER"])
buf = ctypes.create_string_buffer(4096)
size = ctypes.c_size_t()
fake.fake_cuda_last_launch((ctypes.c_uint * 7)(), ctypes.byref(ctypes.c_void_p()), buf,
                           ctypes.c_size_t(4096), ctypes.byref(size),
                           ctypes.create_string_buffer(256), ctypes.c_size_t(256))
assert struct.unpack("<3q", buf.raw[:24]) == (states.device_pointer, 5, 16)
'''
    env = dict(os.environ, EMBER_CUDA_DRIVER=fake_cuda_lib, FAKE_CUDA_DEVICES="1",
               PYTHONPATH=str(ROOT / "python"))
    env.pop("EMBER_DEVICE", None)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    words = [int(x) for x in proc.stdout.split()]
    assert words == [w for pair in reference_states(5, 42) for w in pair]


_NUMBA_SIM_DRAWS = r'''
import json, numpy as np
from numba import cuda
from numba.cuda.random import (create_xoroshiro128p_states, xoroshiro128p_uniform_float32,
                               xoroshiro128p_uniform_float64, xoroshiro128p_normal_float32,
                               xoroshiro128p_normal_float64)

@cuda.jit
def draw(states, out):
    i = cuda.grid(1)
    if i < out.shape[0]:
        for k in range(out.shape[1] // 4):
            out[i, 4 * k] = xoroshiro128p_uniform_float32(states, i)
            out[i, 4 * k + 1] = xoroshiro128p_uniform_float64(states, i)
            out[i, 4 * k + 2] = xoroshiro128p_normal_float32(states, i)
            out[i, 4 * k + 3] = xoroshiro128p_normal_float64(states, i)

states = create_xoroshiro128p_states(4, seed=7, subsequence_start=1)
s = states.copy_to_host()
out = np.zeros((4, 12))
draw[1, 4](states, out)
print(json.dumps({"s0": [int(v) for v in s["s0"]], "s1": [int(v) for v in s["s1"]],
                  "draws": out.tolist()}))
'''


def test_a_seed_gives_the_numbers_numbas_simulator_gives():
    """numba's own random module, run by numba's simulator in another
    process, is the reference: same states, same draws."""
    import json
    import os
    import subprocess
    import sys
    pytest.importorskip("numba")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    env.pop("PYTHONPATH", None)
    run = subprocess.run([sys.executable, "-c", _NUMBA_SIM_DRAWS], env=env,
                         capture_output=True, text=True, timeout=300)
    if run.returncode != 0:
        pytest.skip(f"numba's simulator did not run here: {run.stderr.strip()[-300:]}")
    want = json.loads(run.stdout.strip().splitlines()[-1])
    states = create_xoroshiro128p_states(4, seed=7, subsequence_start=1)
    host = states.copy_to_host()
    assert [int(v) for v in host["s0"]] == want["s0"]
    assert [int(v) for v in host["s1"]] == want["s1"]

    @cuda.jit
    def draw_all(states, out):
        i = cuda.grid(1)
        if i < out.shape[0]:
            for k in range(out.shape[1] // 4):
                out[i, 4 * k] = xoroshiro128p_uniform_float32(states, i)
                out[i, 4 * k + 1] = xoroshiro128p_uniform_float64(states, i)
                out[i, 4 * k + 2] = xoroshiro128p_normal_float32(states, i)
                out[i, 4 * k + 3] = xoroshiro128p_normal_float64(states, i)

    out = np.zeros((4, 12))
    draw_all[1, 4](states, out)
    got = np.array(want["draws"])
    np.testing.assert_array_equal(out[:, 0::4], got[:, 0::4])   # uniforms: bit for bit
    np.testing.assert_array_equal(out[:, 1::4], got[:, 1::4])
    # normals: numba's compiled code takes math.log of a float32 uniform in
    # float32 (as ember does); its simulator runs Python's float64 math.log
    np.testing.assert_allclose(out[:, 2::4], got[:, 2::4], rtol=1e-6)
    np.testing.assert_allclose(out[:, 3::4], got[:, 3::4], rtol=1e-6)
