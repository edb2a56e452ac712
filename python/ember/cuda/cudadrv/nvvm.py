"""``ember.cuda.cudadrv.nvvm``: the libNVVM that ember compiles kernels for
GPUs with, as numba's ``NVVM`` class reports it (its version, the NVVM IR
version it reads, ``is_nvvm70``). ember finds and opens libNVVM itself, in C
(devices/cuda/nvvm.c, the places it looks are in the README); this module
asks that same library, through ``_ember.nvvm_version``, and has no ctypes
handle of its own. Where no libNVVM is found, ``NVVM()`` raises
CudaSupportError with the places ember looked, as compiling for a GPU does."""

import threading

from ... import _ember
from ...errors import CudaSupportError  # noqa: F401  (what NVVM() raises)

__all__ = ["NVVM", "is_available"]

_lock = threading.Lock()


class NVVM:
    """The libNVVM ember loads (one per process, as in numba)."""

    _instance = None

    def __new__(cls):
        with _lock:
            if cls._instance is None:
                info = _ember.nvvm_version()  # CudaSupportError when not found
                inst = object.__new__(cls)
                inst._info = info
                cls._instance = inst
        return cls._instance

    @property
    def library(self):
        """The path libNVVM was opened from."""
        return self._info["library"]

    def get_version(self):
        """(major, minor) of libNVVM (nvvmVersion)."""
        return tuple(self._info["version"])

    def get_ir_version(self):
        """(major IR, minor IR, major debug, minor debug) (nvvmIRVersion)."""
        return tuple(self._info["ir_version"]) + tuple(self._info["debug_version"])

    @property
    def is_nvvm70(self):
        """True for NVVM 7.0 and later: NVVM IR 1.6 and later (CUDA 11.2 on),
        as numba defines it (nvvmAddModuleToProgram's documentation)."""
        return tuple(self._info["ir_version"]) >= (1, 6)


def is_available():
    """Whether libNVVM can be found."""
    try:
        NVVM()
    except CudaSupportError:
        return False
    return True
