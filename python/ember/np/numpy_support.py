"""``ember.np.numpy_support`` — conversions between NumPy dtypes and ember
types, at the path numba has them (``numba.np.numpy_support``)."""

from ..types import as_dtype, from_dtype  # noqa: F401

__all__ = ["as_dtype", "from_dtype"]
