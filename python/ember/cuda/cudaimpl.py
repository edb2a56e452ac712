"""``ember.cuda.cudaimpl.lower`` (numba's ``numba.cuda.cudaimpl.lower``):
registers an implementation of a call for kernels and device functions. ember
runs implementations that build a struct-model value (see _structmodel.py)."""

from .._structmodel import make_lower

lower = make_lower("cuda")

__all__ = ["lower"]
