"""NumPy functions of ember.jit written in Python with ember.jit itself
(numba's way of writing its NumPy support): the front end turns
np.unique(a), np.searchsorted(a, v), np.nonzero(a), np.where(cond) and
np.histogram(a, ...) into calls of these, which are inlined. They use only
what ember.jit compiles (a.flat, np.sort, np.empty ...), so they work for
every dtype those do; see the README's ember.jit section for their limits."""

import numpy as np

from ._jit import njit


@njit
def unique(a):
    """The sorted distinct values of a, flattened; NaNs collapse to one
    (NumPy >= 1.24's equal_nan=True)."""
    s = np.sort(a.flat)
    out = np.empty_like(s)
    k = 0
    for i in range(s.shape[0]):
        x = s[i]
        if i == 0:
            out[k] = x
            k += 1
        else:
            y = s[i - 1]
            if not (x == y or (x != x and y != y)):
                out[k] = x
                k += 1
    return out[:k]


@njit
def _before(x, y):
    """x sorts before y in NumPy's order (NaN last)."""
    return x < y or (y != y and x == x)


@njit
def searchsorted_left(a, v):
    lo = 0
    hi = a.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if _before(a[mid], v):
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit
def searchsorted_right(a, v):
    lo = 0
    hi = a.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if _before(v, a[mid]):
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit
def nonzero(a):
    """np.nonzero of a 1-D array: a 1-tuple of the indices of its nonzero
    (true) elements."""
    n = 0
    for i in range(a.shape[0]):
        if a[i] != 0:
            n += 1
    out = np.empty(n, np.int64)
    k = 0
    for i in range(a.shape[0]):
        if a[i] != 0:
            out[k] = i
            k += 1
    return (out,)


@njit
def histogram(a, bins, lo, hi):
    """np.histogram(a, bins, (lo, hi)): NumPy's counts (its bin index with
    the same edge corrections) and edges."""
    if lo == hi:
        lo = lo - 0.5
        hi = hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    counts = np.zeros(bins, np.int64)
    norm = bins / (hi - lo)
    for x in a.flat:
        if x >= lo and x <= hi:
            k = int((x - lo) * norm)
            if k == bins:
                k -= 1
            if x < edges[k]:
                k -= 1
            elif k != bins - 1 and x >= edges[k + 1]:
                k += 1
            counts[k] += 1
    return counts, edges


@njit
def histogram_auto(a, bins):
    """np.histogram(a, bins) without a range: the data's (0, 1 when empty)."""
    if a.size == 0:
        return histogram(a, bins, 0.0, 1.0)
    return histogram(a, bins, float(a.min()), float(a.max()))


@njit
def concatenate2(a, b):
    """np.concatenate((a, b)) along the first axis: the items (rows) of a,
    then b's, in the promoted dtype."""
    xs = []
    for r in a:
        xs.append(r)
    for s in b:
        xs.append(s)
    return np.array(xs)


@njit
def hstack2(a, b):
    """np.hstack((a, b)): along the first axis of 1-D arrays, the second of
    N-D ones (the concatenation of the transposes, transposed)."""
    return concatenate2(a.T, b.T).T


@njit
def _rows2d(a):
    """a as 2-D rows (np.atleast_2d for 1-D and 2-D arrays): a C copy."""
    return np.array(a).reshape((-1, a.shape[-1]))


@njit
def vstack2(a, b):
    """np.vstack((a, b)): 1-D arrays as rows, then along the first axis."""
    return concatenate2(_rows2d(a), _rows2d(b))
