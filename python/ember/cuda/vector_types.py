"""``ember.cuda.vector_types``: numba-cuda's table of the CUDA vector types,
``vector_types``, name ("float32x4") -> a descriptor with ``.name``,
``.base_type`` (``ember.types.float32``), ``.num_elements``,
``.attr_names`` and ``.user_facing_object`` (``cuda.float32x4``, whose
``.aliases`` are C's names, ``['float4']``).

As in numba-cuda this module is internal (its tests walk it); user code
names the types through ``cuda``. It is ember's own table
(``ember._vector_types.VECTOR_TYPES``), the one the compiler reads."""

from .._vector_types import VECTOR_TYPES as vector_types, VectorType

__all__ = ["vector_types", "VectorType"]
