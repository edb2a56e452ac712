"""NumPy datetime64 / timedelta64 in kernels (spec: numba's
cudapy/test_datetime.py): arrays of any unit as arguments, element reads and
writes, datetime - datetime, datetime +/- timedelta, timedelta arithmetic
with timedeltas and integers, comparisons, NaT as NumPy has it, scalars
np.datetime64 / np.timedelta64 as arguments, NumPy's unit promotion (the
finer unit) and the operations ember refuses. Every result is compared with
NumPy computing the same on the host; conftest compiles each kernel to PTX."""

import numpy as np
import pytest

from ember import cuda
from ember.errors import TypingError

NAT = np.iinfo(np.int64).min


def _dates(n, unit, seed, nat_every=7):
    """n random datetime64[unit] values with a NaT every `nat_every`."""
    r = np.random.default_rng(seed)
    v = r.integers(-50_000, 50_000, n)
    v[::nat_every] = NAT
    return v.view(f"M8[{unit}]")


def _deltas(n, unit, seed, nat_every=5, zeros=True):
    r = np.random.default_rng(seed)
    v = r.integers(-1000, 1000, n)
    if zeros:
        v[1::9] = 0
    v[::nat_every] = NAT
    return v.view(f"m8[{unit}]")


def _same(got, want):
    """Equal values with NaT in the same places (NaT != NaT in NumPy)."""
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.view(np.int64), want.view(np.int64))


@cuda.jit
def _diff(start, end, delta):
    for i in range(cuda.grid(1), delta.size, cuda.gridsize(1)):
        delta[i] = end[i] - start[i]


def test_numba_basic_datetime_kernel(kernel_device):
    arr1 = np.arange("2005-02", "2006-02", dtype="datetime64[D]")
    arr2 = arr1 + np.random.default_rng(1).integers(0, 10000, arr1.size)
    delta = np.zeros_like(arr1, dtype="timedelta64[D]")
    _diff[1, 32](arr1, arr2, delta)
    _same(delta, arr2 - arr1)


@pytest.mark.parametrize("unit", ["Y", "M", "W", "D", "h", "s", "ms", "us", "ns", "as"])
def test_datetime_difference_any_unit_with_nat(kernel_device, unit):
    a, b = _dates(100, unit, 2), _dates(100, unit, 3, nat_every=11)
    out = np.zeros(100, f"m8[{unit}]")
    _diff[2, 32](a, b, out)
    _same(out, b - a)


@cuda.jit
def _arith(dt, td, td2, k, o_dt_add, o_dt_sub, o_td_add, o_td_sub, o_mul, o_rmul,
           o_floordiv, o_div, o_tdfloordiv, o_tdtruediv, o_mod, o_neg, o_dt_int, o_td_int):
    i = cuda.grid(1)
    if i < dt.size:
        o_dt_add[i] = dt[i] + td[i]
        o_dt_sub[i] = dt[i] - td[i]
        o_td_add[i] = td[i] + td2[i]
        o_td_sub[i] = td[i] - td2[i]
        o_mul[i] = td[i] * k[i]
        o_rmul[i] = k[i] * td[i]
        o_floordiv[i] = td[i] // k[i]
        o_div[i] = td[i] / k[i]
        o_tdfloordiv[i] = td[i] // td2[i]
        o_tdtruediv[i] = td[i] / td2[i]
        o_mod[i] = td[i] % td2[i]
        o_neg[i] = -td[i]
        o_dt_int[i] = dt[i] + k[i] - 3
        o_td_int[i] = 2 + td[i] - k[i]


def test_arithmetic_as_numpy_with_nat_and_zero_divisors(kernel_device):
    n = 90
    dt, td, td2 = _dates(n, "D", 4), _deltas(n, "D", 5), _deltas(n, "D", 6, nat_every=13)
    k = np.random.default_rng(7).integers(-4, 5, n)  # zeros included
    outs = [np.zeros(n, t) for t in
            ["M8[D]", "M8[D]", "m8[D]", "m8[D]", "m8[D]", "m8[D]", "m8[D]", "m8[D]",
             "i8", "f8", "m8[D]", "m8[D]", "M8[D]", "m8[D]"]]
    _arith[3, 32](dt, td, td2, k, *outs)
    with np.errstate(all="ignore"):
        want = [dt + td, dt - td, td + td2, td - td2, td * k, k * td, td // k, td / k,
                td // td2, td / td2, td % td2, -td, dt + k - 3, 2 + td - k]
    for name, got, w in zip(["dt+td", "dt-td", "td+td", "td-td", "td*k", "k*td", "td//k",
                             "td/k", "td//td", "td/td", "td%td", "-td", "dt+k", "k+td"],
                            outs, want):
        if got.dtype.kind == "f":
            np.testing.assert_array_equal(got, w, err_msg=name)
        else:
            _same(got.astype(w.dtype) if got.dtype.kind == "i" else got, w)


@cuda.jit
def _compare(a, b, out):
    i = cuda.grid(1)
    if i < a.size:
        out[i, 0] = a[i] == b[i]
        out[i, 1] = a[i] != b[i]
        out[i, 2] = a[i] < b[i]
        out[i, 3] = a[i] <= b[i]
        out[i, 4] = a[i] > b[i]
        out[i, 5] = a[i] >= b[i]


@pytest.mark.parametrize("kind", ["M8", "m8"])
def test_comparisons_nat_compares_unequal(kernel_device, kind):
    a = np.random.default_rng(8).integers(-3, 3, 80)
    b = np.random.default_rng(9).integers(-3, 3, 80)
    a[::6] = NAT
    b[::4] = NAT
    a, b = a.view(f"{kind}[s]"), b.view(f"{kind}[s]")
    out = np.zeros((80, 6), np.bool_)
    _compare[1, 96](a, b, out)
    want = np.stack([a == b, a != b, a < b, a <= b, a > b, a >= b], axis=1)
    np.testing.assert_array_equal(out, want)
    assert out[0, 1] and not out[0, 0]  # NaT vs NaT: unequal


@cuda.jit
def _scalars(dates, target, delta, matches, outdelta):
    for i in range(cuda.grid(1), matches.size, cuda.gridsize(1)):
        matches[i] = dates[i] == target
        outdelta[i] = dates[i] - delta


@pytest.mark.parametrize("unit", ["D", "ns"])
def test_scalar_datetime_and_timedelta_arguments(kernel_device, unit):
    arr1 = np.arange("2005-02", "2006-02", dtype="datetime64[D]")[::7].astype(f"M8[{unit}]")
    target, delta = arr1[5], arr1[6] - arr1[5]
    matches = np.zeros_like(arr1, dtype=np.bool_)
    outdelta = np.zeros_like(arr1)
    _scalars[1, 32](arr1, target, delta, matches, outdelta)
    np.testing.assert_array_equal(matches, arr1 == target)
    _same(outdelta, arr1 - delta)
    # NaT scalars: nothing matches, every difference is NaT
    _scalars[1, 32](arr1, np.datetime64("NaT", unit), np.timedelta64("NaT", unit), matches,
                    outdelta)
    assert not matches.any()
    _same(outdelta, arr1 - np.timedelta64("NaT", unit))


@cuda.jit
def _mixed(d_day, d_hour, t_sec, t_ms, o_dd, o_dt, o_tt, o_cmp):
    i = cuda.grid(1)
    if i < d_day.size:
        o_dd[i] = d_day[i] - d_hour[i]    # timedelta64[h]
        o_dt[i] = d_day[i] + t_sec[i]     # datetime64[s]
        o_tt[i] = t_sec[i] + t_ms[i]      # timedelta64[ms]
        o_cmp[i] = d_day[i] < d_hour[i]


def test_mixed_units_meet_in_the_finer_unit(kernel_device):
    n = 64
    d_day, d_hour = _dates(n, "D", 10), _dates(n, "h", 11, nat_every=9)
    t_sec, t_ms = _deltas(n, "s", 12), _deltas(n, "ms", 13)
    outs = [np.zeros(n, "m8[h]"), np.zeros(n, "M8[s]"), np.zeros(n, "m8[ms]"),
            np.zeros(n, np.bool_)]
    _mixed[1, 64](d_day, d_hour, t_sec, t_ms, *outs)
    _same(outs[0], d_day - d_hour)
    _same(outs[1], d_day + t_sec)
    _same(outs[2], t_sec + t_ms)
    np.testing.assert_array_equal(outs[3], d_day < d_hour)


@cuda.jit
def _store_units(src, out, first):
    i = cuda.grid(1)
    if i < src.size:
        x = src[i]         # a variable holding a timedelta64
        out[i] = x         # converted to the array's unit (floors to a coarser one)
        first[i] = 0 if i == 0 else i


def test_store_converts_units_as_astype(kernel_device):
    src = _deltas(70, "h", 14) * 7
    out = np.zeros(70, "m8[D]")
    first = np.ones(70, "m8[s]")
    _store_units[1, 96](src, out, first)
    _same(out, src.astype("m8[D]"))
    _same(first, np.arange(70).astype("m8[s]"))


@cuda.jit
def _generic(td, out):
    i = cuda.grid(1)
    if i < td.size:
        out[i] = td[i] * 2 + out[i]


def test_generic_timedelta_scalar_takes_the_other_unit(kernel_device):
    td = _deltas(40, "us", 15)
    out = np.zeros(40, "m8[us]")
    _generic[1, 64](td, out)
    _same(out, td * 2)

    @cuda.jit
    def add_generic(a, g, out):
        i = cuda.grid(1)
        if i < a.size:
            out[i] = a[i] + g

    a = _dates(40, "m", 16)
    out2 = np.zeros(40, "M8[m]")
    add_generic[1, 64](a, np.timedelta64(3), out2)
    _same(out2, a + np.timedelta64(3))


def test_refused_operations_are_typing_errors_naming_the_line(cpu_device):
    @cuda.jit
    def add_dates(a, b, out):
        out[0] = a[0] + b[0]

    @cuda.jit
    def calendar_with_days(a, b, out):
        out[0] = a[0] - b[0]

    @cuda.jit
    def times_float(a, out):
        out[0] = a[0] * 1.5

    @cuda.jit
    def store_into(a, out):
        out[0] = a[0]

    d = _dates(4, "D", 17)
    with pytest.raises(TypingError, match=r"test_datetime.py:\d+.*datetime64\[D\] and "
                                          r"datetime64\[D\]"):
        add_dates[1, 1](d, d, np.zeros(4, "M8[D]"))
    with pytest.raises(TypingError, match=r"test_datetime.py:\d+.*datetime64\[Y\] and "
                                          r"datetime64\[D\].*no common unit"):
        calendar_with_days[1, 1](_dates(4, "Y", 18), d, np.zeros(4, "m8[D]"))
    with pytest.raises(TypingError, match=r"test_datetime.py:\d+.*timedelta64\[D\] and "
                                          r"float literal"):
        times_float[1, 1](_deltas(4, "D", 19), np.zeros(4, "m8[D]"))
    with pytest.raises(TypingError, match=r"test_datetime.py:\d+.*cannot store "
                                          r"datetime64\[D\] into an array of timedelta64\[D\]"):
        store_into[1, 1](d, np.zeros(4, "m8[D]"))
    with pytest.raises(TypingError, match=r"cannot store datetime64\[D\] into an array of "
                                          r"float64"):
        store_into[1, 1](d, np.zeros(4))
    with pytest.raises(TypeError, match=r"datetime64\[2D\].*multiples"):
        store_into[1, 1](np.zeros(4, "M8[2D]"), np.zeros(4, "M8[2D]"))


def test_ember_jit_functions_take_and_return_them():
    import ember

    @ember.jit
    def span(a, out):
        for i in range(a.size - 1):
            out[i] = a[i + 1] - a[i]
        return a[a.size - 1] - a[0], a[0]

    a = np.sort(np.random.default_rng(20).integers(-10**6, 10**6, 30)).view("M8[s]")
    a[4] = np.datetime64("NaT")
    out = np.zeros(29, "m8[s]")
    whole, first = span(a, out)
    _same(out, a[1:] - a[:-1])
    assert whole == a[-1] - a[0] and whole.dtype == np.dtype("m8[s]")
    assert first == a[0] and first.dtype == np.dtype("M8[s]")
    b = a.copy()
    b[0] = NAT
    whole, first = span(b, out)
    assert np.isnat(whole) and np.isnat(first)
