"""smoke.py — the GPU bundle's check after build-ext.sh built the extension.

    python3 smoke.py cpu    (with EMBER_DEVICE=cpu) a kernel on the CPU
    python3 smoke.py gpu    the same kernel on the current CUDA GPU

Imports ember from src/python, prints what cuda.detect() finds, launches a
saxpy kernel on host arrays and on device arrays, compares with NumPy.
"""

import os
import sys

# CUDA kernels compile with libNVVM: the host's toolkit when it has one, else
# the copy in the bundle (tools/gpu-bundle puts it in <bundle>/cuda).
_bundled = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cuda")
if "EMBER_NVVM" not in os.environ and os.path.isdir(_bundled) and not any(
        os.path.isdir(os.path.join(os.environ.get(v, "/usr/local/cuda"), "nvvm", "libdevice"))
        for v in ("CUDA_HOME", "CUDA_PATH")):
    os.environ["EMBER_NVVM"] = _bundled

import numpy as np

import ember
from ember import cuda

where = sys.argv[1] if len(sys.argv) > 1 else "cpu"
print(f"ember from {ember.__file__}, NumPy {np.__version__}, Python {sys.version.split()[0]}")
cuda.detect()


@cuda.jit
def saxpy(a, x, y, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = a * x[i] + y[i]


x = np.arange(1000, dtype=np.float32)
y = np.ones_like(x)
out = np.zeros_like(x)
saxpy[8, 128](np.float32(2.0), x, y, out)             # host arrays: copied in and back
assert np.allclose(out, 2 * x + y), out[:4]
dout = cuda.device_array_like(x)
saxpy[4, 256](2.5, cuda.to_device(x), cuda.to_device(y), dout)   # device arrays
assert np.allclose(dout.copy_to_host(), 2.5 * x + y)
print(f"smoke ({where}): saxpy ok")
