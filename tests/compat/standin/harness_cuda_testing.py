"""numba.cuda.testing for the stand-in: the test-case classes and skip
decorators numba's CUDA tests use, written for ember. Compute-capability
skips ask ember's current device."""

import os
import platform
import shutil
import unittest

import harness_config as config
from harness_support import SerialMixin, TestCase


class CUDATestCase(SerialMixin, TestCase):
    """A test that uses the device; saves and restores the warning flags."""

    def setUp(self):
        self._low_occupancy_warnings = config.CUDA_LOW_OCCUPANCY_WARNINGS
        self._warn_on_implicit_copy = config.CUDA_WARN_ON_IMPLICIT_COPY
        config.CUDA_LOW_OCCUPANCY_WARNINGS = 0
        config.CUDA_WARN_ON_IMPLICIT_COPY = 0

    def tearDown(self):
        config.CUDA_LOW_OCCUPANCY_WARNINGS = self._low_occupancy_warnings
        config.CUDA_WARN_ON_IMPLICIT_COPY = self._warn_on_implicit_copy


class ContextResettingTestCase(CUDATestCase):
    """A test after which the context is reset (numba: devices.reset(),
    which is what cuda.close() does)."""

    def tearDown(self):
        super().tearDown()
        from ember import cuda
        cuda.close()


def ensure_supported_ccs_initialized():
    pass


def skip_on_cudasim(reason):
    return unittest.skipIf(config.ENABLE_CUDASIM, reason)


def skip_unless_cudasim(reason):
    return unittest.skipUnless(config.ENABLE_CUDASIM, reason)


def skip_unless_conda_cudatoolkit(reason):
    return unittest.skip(reason)  # ember never uses a conda toolkit


def skip_if_external_memmgr(reason):
    return unittest.skipIf(config.CUDA_MEMORY_MANAGER != "default", reason)


def skip_under_cuda_memcheck(reason):
    return unittest.skipIf(os.environ.get("CUDA_MEMCHECK") is not None, reason)


def skip_without_nvdisasm(reason):
    return unittest.skipIf(shutil.which("nvdisasm") is None, reason)


def skip_with_nvdisasm(reason):
    return unittest.skipIf(shutil.which("nvdisasm") is not None, reason)


def skip_on_arm(reason):
    cpu = platform.processor()
    return unittest.skipIf(cpu.startswith(("arm", "aarch")), reason)


def skip_if_cuda_includes_missing(fn):
    cuda_h = os.path.join(config.CUDA_INCLUDE_PATH, "cuda.h")
    return unittest.skipUnless(os.path.isfile(cuda_h),
                               "CUDA include dir not available on this system")(fn)


def cc_X_or_above(major, minor):
    from ember import cuda
    return tuple(cuda.get_current_device().compute_capability) >= (major, minor)


def skip_unless_cc_50(fn):
    return unittest.skipUnless(cc_X_or_above(5, 0), "requires cc >= 5.0")(fn)


def skip_unless_cc_53(fn):
    return unittest.skipUnless(cc_X_or_above(5, 3), "requires cc >= 5.3")(fn)


def skip_unless_cc_60(fn):
    return unittest.skipUnless(cc_X_or_above(6, 0), "requires cc >= 6.0")(fn)


def xfail_unless_cudasim(fn):
    return fn if config.ENABLE_CUDASIM else unittest.expectedFailure(fn)


def skip_with_cuda_python(reason):
    return unittest.skipIf(config.CUDA_USE_NVIDIA_BINDING, reason)


def skip_unless_cuda_python(reason):
    return unittest.skipIf(not config.CUDA_USE_NVIDIA_BINDING, reason)


def skip_if_cudadevrt_missing(fn):
    return fn


class ForeignArray:
    """An array from "another library": only __cuda_array_interface__."""

    def __init__(self, arr):
        self._arr = arr
        self.__cuda_array_interface__ = arr.__cuda_array_interface__
