"""numba.core.config for the stand-in: the flags numba's CUDA tests read and
set. ember reads none of them; they exist so the tests import and can save
and restore them. ENABLE_CUDASIM is 0: ember is not a simulator, so tests
numba skips on its simulator run here (and must pass)."""

import os

ENABLE_CUDASIM = 0
CUDA_LOW_OCCUPANCY_WARNINGS = 1
CUDA_WARN_ON_IMPLICIT_COPY = 1
CUDA_MEMORY_MANAGER = "default"
CUDA_INCLUDE_PATH = os.environ.get("CUDA_HOME", "/usr/local/cuda") + "/include"
CUDA_DEALLOCS_COUNT = 10
CUDA_DEALLOCS_RATIO = 0.2
CUDA_PER_THREAD_DEFAULT_STREAM = 0
CUDA_ARRAY_INTERFACE_SYNC = 1
CUDA_DEBUGINFO_DEFAULT = 0
CUDA_USE_NVIDIA_BINDING = 0
DUMP_ASSEMBLY = DUMP_BYTECODE = DUMP_CFG = DUMP_IR = DUMP_LLVM = False
DISABLE_JIT = 0
