"""``ember.cuda.random`` — numba.cuda.random's xoroshiro128+ generators.

Each thread owns one state in a device array made by
``create_xoroshiro128p_states(n, seed)``: records of numba's
``xoroshiro128p_dtype`` (two uint64 fields, s0 and s1). Kernels draw numbers
with ``xoroshiro128p_uniform_float32(states, i)`` and friends: device
functions that ember compiles into the kernels that call them, for the CPU
device and for GPUs alike.

The algorithm is numba's (Blackman and Vigna's xoroshiro128+, states
spaced 2**64 draws apart by the jump function), with numba's seeding (both
words of the first state are SplitMix64 of the seed) and numba's
Box-Muller transform (two float32 uniforms, the logarithm in float32), so a
seed gives the numbers numba gives.
"""

import math

import numpy as np

from .._compiler import jit
from ..types import from_dtype
from . import _memory

__all__ = [
    "xoroshiro128p_dtype", "xoroshiro128p_type",
    "create_xoroshiro128p_states", "init_xoroshiro128p_states",
    "xoroshiro128p_next", "xoroshiro128p_jump",
    "xoroshiro128p_uniform_float32", "xoroshiro128p_uniform_float64",
    "xoroshiro128p_normal_float32", "xoroshiro128p_normal_float64",
]

_TWO_PI = 2.0 * math.pi

# one generator's state, as numba has it
xoroshiro128p_dtype = np.dtype([("s0", np.uint64), ("s1", np.uint64)], align=True)
xoroshiro128p_type = from_dtype(xoroshiro128p_dtype)


@jit(device=True)
def _rotl(x, k):
    return (x << k) | (x >> (np.uint64(64) - k))


@jit(device=True)
def xoroshiro128p_next(states, index):
    """The next raw uint64 of state `index` (advances it)."""
    s0 = states[index]["s0"]
    s1 = states[index]["s1"]
    result = s0 + s1
    s1 ^= s0
    states[index]["s0"] = _rotl(s0, np.uint64(55)) ^ s1 ^ (s1 << np.uint64(14))
    states[index]["s1"] = _rotl(s1, np.uint64(36))
    return result


@jit(device=True)
def xoroshiro128p_jump(states, index):
    """Advances state `index` by 2**64 draws."""
    s0 = np.uint64(0)
    s1 = np.uint64(0)
    for jump in (np.uint64(0xBEAC0467EBA5FACB), np.uint64(0xD86B048B86AA9922)):
        for b in range(64):
            if jump & (np.uint64(1) << np.uint64(b)):
                s0 ^= states[index]["s0"]
                s1 ^= states[index]["s1"]
            xoroshiro128p_next(states, index)
    states[index]["s0"] = s0
    states[index]["s1"] = s1


@jit(device=True)
def _to_unit_float64(x):
    return np.float64(x >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@jit(device=True)
def xoroshiro128p_uniform_float64(states, index):
    """A float64 in [0, 1)."""
    return _to_unit_float64(xoroshiro128p_next(states, index))


@jit(device=True)
def xoroshiro128p_uniform_float32(states, index):
    """A float32 in [0, 1)."""
    return np.float32(_to_unit_float64(xoroshiro128p_next(states, index)))


@jit(device=True)
def xoroshiro128p_normal_float64(states, index):
    """A standard normal float64 (Box-Muller from two float32 uniforms, as numba)."""
    u1 = xoroshiro128p_uniform_float32(states, index)
    u2 = xoroshiro128p_uniform_float32(states, index)
    return math.sqrt(-np.float64(2.0) * math.log(u1)) * \
        math.cos(np.float64(6.283185307179586) * u2)


@jit(device=True)
def xoroshiro128p_normal_float32(states, index):
    """A standard normal float32 (Box-Muller in float32, as numba)."""
    u1 = xoroshiro128p_uniform_float32(states, index)
    u2 = xoroshiro128p_uniform_float32(states, index)
    return math.sqrt(-np.float32(2.0) * math.log(u1)) * \
        math.cos(np.float32(6.2831854820251465) * u2)


@jit(device=True)
def _splitmix64(x):
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@jit
def _init_states(states, seed, subsequence_start):
    """One thread: state 0 from the seed, each next one 2**64 draws on."""
    n = states.shape[0]
    if n == 0:
        return
    z = _splitmix64(seed)
    states[0].s0 = z
    states[0].s1 = z
    for _ in range(subsequence_start):
        xoroshiro128p_jump(states, 0)
    for i in range(1, n):
        states[i] = states[i - 1]
        xoroshiro128p_jump(states, i)


def init_xoroshiro128p_states(states, seed, subsequence_start=0, stream=0):
    """Seeds `states` (a 1-D array of xoroshiro128p_dtype) in place, computed
    on the CPU device, then copied."""
    from . import _devices
    if states.dtype != xoroshiro128p_dtype or len(states.shape) != 1:
        raise TypeError(f"init_xoroshiro128p_states: states must be a 1-D array of "
                        f"xoroshiro128p_dtype, not {len(states.shape)}-D of {states.dtype}")
    host = np.empty(states.shape, xoroshiro128p_dtype)
    seed = np.uint64(int(seed) & 0xFFFFFFFFFFFFFFFF)
    with _devices.cpu_device_scope():
        _init_states[1, 1](host, seed, int(subsequence_start))
    states.copy_to_device(host, stream=stream) if stream else states.copy_to_device(host)


def create_xoroshiro128p_states(n, seed, subsequence_start=0, stream=0):
    """A device array of `n` generator states, seeded from `seed`; state i
    is 2**64 draws after state i - 1 (numba's layout of subsequences)."""
    n = int(n)
    if n < 0:
        raise ValueError(f"create_xoroshiro128p_states: n must be >= 0, not {n}")
    states = _memory.device_array(n, xoroshiro128p_dtype, stream=stream)
    init_xoroshiro128p_states(states, seed, subsequence_start, stream)
    return states
