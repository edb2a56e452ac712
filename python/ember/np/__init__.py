"""``ember.np`` — NumPy helpers at numba's paths (``numba.np.numpy_support``)."""

from . import numpy_support  # noqa: F401
