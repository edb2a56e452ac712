"""ember.cuda.random: numba's xoroshiro128+ generators, checked against an
independent pure-Python xoroshiro128+ (Python ints) and for distribution."""

import math

import numpy as np
import pytest

from ember import cuda
from ember.cuda.random import (create_xoroshiro128p_states, xoroshiro128p_normal_float32,
                               xoroshiro128p_uniform_float32, xoroshiro128p_uniform_float64)

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
    s = [z, splitmix(z)]
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
    np.testing.assert_array_equal(states.copy_to_host(), np.array(ref, np.uint64))
    u32 = np.zeros((n, k), np.float32)
    u64 = np.zeros((n, k))
    norm = np.zeros((n, k), np.float32)
    draw[1, 8](states, u32, u64, norm)
    for i in range(n):
        s = list(ref[i])
        for j in range(k):
            assert u32[i, j] == np.float32((nxt(s) >> 11) * 2.0 ** -53)
            assert u64[i, j] == (nxt(s) >> 11) * 2.0 ** -53
            a = (nxt(s) >> 11) * 2.0 ** -53
            b = (nxt(s) >> 11) * 2.0 ** -53
            assert norm[i, j] == pytest.approx(
                np.float32(math.sqrt(-2 * math.log(a)) * math.cos(2 * math.pi * b)), rel=1e-6)


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
