"""CUDA's vector types as numba-cuda names them: ``float32x4`` (alias
``float4``), ``int16x2`` (``short2``) ... ten base types with 1 to 4
elements ``x, y, z, w``. In kernels a vector is a tuple of its base type
(built by the front end: frontend.py vector_call); this table is shared by
the front end and the host-side names in ``ember.cuda``."""

BASES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
         "float32", "float64")
ATTRS = ("x", "y", "z", "w")
# C's names (numba-cuda's aliases; the sizes of this platform's C types)
_C_NAMES = {"char": "int8", "short": "int16", "int": "int32", "long": "int64",
            "longlong": "int64", "uchar": "uint8", "ushort": "uint16", "uint": "uint32",
            "ulong": "uint64", "ulonglong": "uint64", "float": "float32", "double": "float64"}

VECTOR_TYPES = {f"{b}x{n}": (b, n) for b in BASES for n in (1, 2, 3, 4)}
ALIASES = {f"{c}{n}": f"{b}x{n}" for c, b in _C_NAMES.items() for n in (1, 2, 3, 4)}
