"""ember — write GPU kernels in Python; run them on NVIDIA GPUs or on every CPU core.

The Python API follows numba.cuda, so that moving code over means changing
one import::

    from ember import cuda          # instead of: from numba import cuda

This package is the thin Python layer over libember (C): ``ember.cuda`` is the
numba.cuda-compatible surface (device arrays, streams, events, devices),
``ember.cpu`` describes the CPU device that runs kernels when no GPU is
present, and ``ember.runtime`` exposes the runtime's transfer counters.
"""

__version__ = "0.1.0"

from . import errors  # noqa: F401  (the extension raises these)
from . import _ember  # noqa: F401
from . import runtime  # noqa: F401
from ._cpu import cpu  # noqa: F401
from . import cuda  # noqa: F401

__all__ = ["cuda", "cpu", "runtime", "errors", "__version__"]
