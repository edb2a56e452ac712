"""``ember.cgutils.create_struct_proxy`` (numba's ``numba.core.cgutils``):
the struct proxy an @lower implementation fills in (see _structmodel.py)."""

from ._structmodel import create_struct_proxy

__all__ = ["create_struct_proxy"]
