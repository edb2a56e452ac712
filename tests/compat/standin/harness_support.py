"""numba.tests.support for the stand-in: TestCase.assertPreciseEqual and the
small helpers numba's CUDA tests import (captured output, config overrides,
platform skips). Written for ember from the documented behaviour of numba's
helpers; nothing here touches ember."""

import contextlib
import io
import cmath
import math
import sys
import unittest
import warnings

import numpy as np

import harness_config as config


class SerialMixin:
    """Marks a test class for serial execution (the runner is serial)."""
    _numba_parallel_test_ = False


def _kind(value):
    """The family a scalar belongs to, as numba's precise comparison sees it."""
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "float"
    if isinstance(value, (complex, np.complexfloating)):
        return "complex"
    return None


_BITS = {"single": 24, "double": 53}


class TestCase(unittest.TestCase):
    longMessage = True

    def assertPreciseEqual(self, first, second, prec="exact", ulps=1, msg=None,
                           ignore_sign_on_zero=False, abs_tol=None):
        """Arrays: same dtype, shape and layout, then each element. Other
        sequences: element by element. Scalars: same kind (bool, int, float,
        complex) and, for NumPy scalars, the same dtype; exact values for
        exact types or prec='exact', else within numba's tolerance
        2**(ulps - bits - 1) * (|first| + |second|), bits 24 ('single') or 53
        ('double'). NaN equals NaN; zeros
        differ by sign unless ignore_sign_on_zero."""
        if prec not in ("exact", "single", "double"):
            raise ValueError(f"unsupported precision {prec!r}")
        self._precise(first, second, prec, ulps, msg, ignore_sign_on_zero, abs_tol)

    def _precise(self, first, second, prec, ulps, msg, ignore_zero_sign, abs_tol):
        def fail(why):
            self.fail(f"{why}: {first!r} != {second!r}" + (f" : {msg}" if msg else ""))

        if isinstance(first, np.ndarray) or isinstance(second, np.ndarray):
            if not (isinstance(first, np.ndarray) and isinstance(second, np.ndarray)):
                fail("array compared with non-array")
            if first.dtype != second.dtype:
                fail(f"dtypes differ ({first.dtype} vs {second.dtype})")
            if first.shape != second.shape:
                fail(f"shapes differ ({first.shape} vs {second.shape})")
            if first.flags.c_contiguous != second.flags.c_contiguous or \
                    first.flags.f_contiguous != second.flags.f_contiguous:
                fail("layouts differ")
            for a, b in zip(first.flat, second.flat):
                self._precise(a, b, prec, ulps, msg, ignore_zero_sign, abs_tol)
            return
        if isinstance(first, (tuple, list)) and isinstance(second, (tuple, list)):
            if type(first) is not type(second) or len(first) != len(second):
                fail("sequences differ in type or length")
            for a, b in zip(first, second):
                self._precise(a, b, prec, ulps, msg, ignore_zero_sign, abs_tol)
            return
        kind_a, kind_b = _kind(first), _kind(second)
        if kind_a is None or kind_b is None:
            if first != second:
                fail("values differ")
            return
        if kind_a != kind_b:
            fail(f"kinds differ ({kind_a} vs {kind_b})")
        if isinstance(first, np.generic) and isinstance(second, np.generic) \
                and first.dtype != second.dtype:
            fail(f"dtypes differ ({first.dtype} vs {second.dtype})")
        if kind_a in ("bool", "int"):
            if first != second:
                fail("values differ")
            return
        if cmath.isnan(complex(first)) and cmath.isnan(complex(second)):
            return  # numba: two NaNs (a NaN in any part of a complex) are equal
        exact = prec == "exact"
        # numba's tolerance: 2**(ulps - bits - 1) * (|first| + |second|), the
        # whole values' magnitudes (a complex number's modulus), for each part
        delta = None if exact else \
            2.0 ** (ulps - _BITS[prec] - 1) * (abs(complex(first)) + abs(complex(second)))
        if kind_a == "complex":
            parts = [(first.real, second.real), (first.imag, second.imag)]
        else:
            parts = [(first, second)]
        for a, b in parts:
            self._float_equal(float(a), float(b), exact, prec, delta,
                              ignore_zero_sign, abs_tol, fail, first)

    def _float_equal(self, a, b, exact, prec, delta, ignore_zero_sign, abs_tol,
                     fail, original):
        if math.isnan(a) or math.isnan(b):
            if not (math.isnan(a) and math.isnan(b)):
                fail("NaN against a number")
            return
        if a == 0 and b == 0:
            if not ignore_zero_sign and math.copysign(1, a) != math.copysign(1, b):
                fail("zeros of different sign")
            return
        if math.isinf(a) or math.isinf(b):
            if a != b:
                fail("infinities differ")
            return
        if abs_tol is not None:
            tol = np.finfo(type(original)).eps if abs_tol == "eps" else abs_tol
            if abs(a - b) <= tol:
                return
        if exact:
            if a != b:
                fail("values differ")
            return
        if a != b and not abs(a - b) <= delta:  # equal passes (unittest's assertAlmostEqual),
            fail(f"values differ beyond {prec} precision")  # even when delta is NaN


@contextlib.contextmanager
def captured_output(stream_name):
    saved = getattr(sys, stream_name)
    stream = io.StringIO()
    setattr(sys, stream_name, stream)
    try:
        yield stream
    finally:
        setattr(sys, stream_name, saved)


def captured_stdout():
    return captured_output("stdout")


def captured_stderr():
    return captured_output("stderr")


@contextlib.contextmanager
def override_config(name, value):
    saved = getattr(config, name)
    setattr(config, name, value)
    try:
        yield
    finally:
        setattr(config, name, saved)


linux_only = unittest.skipIf(not sys.platform.startswith("linux"), "Linux-only test")
windows_only = unittest.skipIf(not sys.platform.startswith("win"), "Windows-only test")


@contextlib.contextmanager
def ignore_internal_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def tag(*tags):
    """numba's test tags ('important', 'long_running'): no effect here."""
    return lambda fn: fn
