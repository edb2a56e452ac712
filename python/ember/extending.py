"""numba's pure-Python extension hooks: `overload` and `register_jitable`.

    from ember.extending import overload, register_jitable

    @overload(scale, target="cuda")        # "generic" (default), "cpu" or "cuda"
    def ol_scale(x, k):
        def impl(x, k):
            return x * k
        return impl

A call of `scale(...)` in a kernel or device function (target "cuda") or in
an ember.jit function (target "cpu") asks the typing function registered for
that target (else the "generic" one) for an implementation, given the
arguments' ember types (None where the front end does not know a type when
it reads the call: an argument that is not a parameter or a constant), and
compiles the implementation inline as a device function. A typing function
that returns None is a TypingError naming the line. `register_jitable`
makes a plain function callable from compiled code (target "generic") and
returns it unchanged.
"""

import threading

__all__ = ["overload", "register_jitable"]

_TARGETS = ("generic", "cpu", "cuda")
_registry = {}   # the overloaded Python function -> [(target, typing function)]
_lock = threading.Lock()


def overload(func, jit_options=None, strict=True, inline="never", prefer_literal=False,
             target="generic", **kwargs):
    """Registers the decorated typing function as `func`'s implementation
    for `target` in compiled code (numba.extending.overload)."""
    if target not in _TARGETS:
        raise ValueError(f"overload: target must be one of {', '.join(_TARGETS)}, not "
                         f"{target!r}")
    if not callable(func):
        raise TypeError(f"overload: {func!r} is not a function")

    def decorate(typing_fn):
        with _lock:
            _registry.setdefault(func, []).append((target, typing_fn))
        return typing_fn
    return decorate


def register_jitable(*args, **kwargs):
    """@register_jitable or @register_jitable(**options): the function,
    unchanged, also callable from kernels and ember.jit functions."""
    def wrap(fn):
        overload(fn, target=kwargs.get("target", "generic"))(lambda *a, **k: fn)
        return fn
    if len(args) == 1 and not kwargs and callable(args[0]):
        return wrap(args[0])
    return wrap


def is_overloaded(obj):
    try:
        return obj in _registry
    except TypeError:  # unhashable
        return False


def resolve(func, target, argtypes):
    """The implementation (a Python function) for a call of `func` from
    compiled code for `target` ("cpu" or "cuda"), or None."""
    with _lock:
        entries = list(_registry.get(func, ()))
    for want in (target, "generic"):
        for t, typing_fn in reversed(entries):  # the latest registration first
            if t == want:
                impl = typing_fn(*argtypes)
                if impl is not None:
                    return impl
    return None


# numba's low-level extension API for struct types (_structmodel.py)
from ._structmodel import (models, register_model, make_attribute_wrapper,  # noqa: E402
                           typeof_impl, type_callable, make_lower as _make_lower)
from ._structmodel import StructModel  # noqa: E402,F401

lower_builtin = _make_lower("generic")  # numba.core.imputils.lower_builtin: every target
__all__ += ["models", "register_model", "make_attribute_wrapper", "typeof_impl",
            "type_callable", "lower_builtin"]
