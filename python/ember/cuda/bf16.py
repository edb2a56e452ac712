"""``ember.cuda.bf16`` — bfloat16 in kernels, as numba-cuda's ``numba.cuda.bf16``.

``bfloat16`` is the type: ``bfloat16(x)`` in a kernel rounds x (a float or
an integer) to it, nearest with ties to even; + - * / and unary - on
bfloat16 values give bfloat16 (each result rounded once); comparisons give
bools; ``float32(b)`` widens one exactly. The functions below are the
kernel-only names of numba-cuda's module (hadd, hfma, hmax, hsqrt,
float32_to_bfloat16, bfloat16_as_int16 ...): calling one from the host is a
TypeError. The front end builds each from casts and float32 arithmetic
(python/ember/_compiler/_bf16.py).

NumPy has no bfloat16 dtype, so there are no arrays of it: keep the values
in int16 / uint16 arrays and read and write them with int16_as_bfloat16 /
bfloat16_as_int16 (the same 16 bits).
"""

from ..types import bfloat16
from ._intrinsics import Intrinsic
from .._compiler._bf16 import BF16_FUNCTIONS

__all__ = ["bfloat16"] + sorted(BF16_FUNCTIONS)

for _name in BF16_FUNCTIONS:
    globals()[_name] = Intrinsic(f"bf16.{_name}")
del _name
