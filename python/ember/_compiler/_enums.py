"""Enum members in kernels and ember.jit functions, as numba has them.

An IntEnum member is its integer. A member of another Enum is an int64 code
that stands for that member alone (the same code wherever it appears: as a
constant, an argument or a device function's result), so `==`, `!=`, `is`
compare members, and members of two classes are never equal, as in Python.
Codes start far from small integers. `Color.red.value` is the value itself,
a constant read at compile time.
"""

import enum
import threading

_CODE_BASE = 1 << 40
_codes = {}          # (class, member name) -> code
_lock = threading.Lock()


def is_enum_class(obj):
    return isinstance(obj, type) and issubclass(obj, enum.Enum)


def member_code(member):
    """The number a member is in compiled code (see the module's text)."""
    if isinstance(member, int):  # IntEnum, IntFlag
        return int(member)
    key = (type(member), member.name)
    with _lock:
        code = _codes.get(key)
        if code is None:
            code = _codes[key] = _CODE_BASE + len(_codes)
    return code


def member_of_code(cls, code):
    """The member of Enum class `cls` whose code is `code` (the inverse of
    member_code); ValueError when the code is none of cls's."""
    for m in cls:
        if member_code(m) == code:
            return m
    raise ValueError(f"{code} is not the code of a member of {cls.__qualname__}")


def as_argument(value):
    """An argument as compiled code takes it: Enum members become their code."""
    if isinstance(value, enum.Enum):
        return member_code(value)
    return value
