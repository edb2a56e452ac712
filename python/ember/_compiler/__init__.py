"""ember's kernel compiler, Python side.

``frontend`` turns a Python function into a tree of tuples (the contract
with ``python/ext/compile.c``, which builds core/ir.h IR from it);
``dispatcher`` is ``cuda.jit``: it types the arguments of each call,
compiles one specialisation per argument-type signature and launches it.
"""

from .dispatcher import Dispatcher, jit  # noqa: F401
from .frontend import build_tree, format_error, source_info  # noqa: F401

__all__ = ["Dispatcher", "jit", "build_tree", "format_error", "source_info"]
