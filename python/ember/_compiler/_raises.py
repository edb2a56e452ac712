"""`raise` and `assert` in kernels and ember.jit functions.

The front end records, for each `raise` (and `assert`) site "file:line:col",
the exception class and its constant arguments; the compiled code records a
KERNEL_FAULT_RAISE with that site (and the thread and block) and ends the
thread. After the launch (or call), python/ext asks kernel_exception for the
exception to raise. In a kernel its message names the function, file, line,
thread and block as numba's does (`In function 'k', file f.py, line 12,
tid=[0, 0, 0] ctaid=[0, 0, 0]: message`); an ember.jit function raises it
as Python would (`cls(*args)`).

The compiled code also raises exceptions of its own, which no `raise`
wrote: ZeroDivisionError in a kernel compiled with debug=True (numba's
Python error model, core/lower_arith.c). Their site carries the class and
the message: "file:line:col [ZeroDivisionError: division by zero]".
"""

import re
import threading

_sites = {}   # "file:line:col" -> (exception class, args)
_lock = threading.Lock()
_OWN_SITE = re.compile(r"(.*) \[(\w+): (.*)\]")
_OWN_CLASSES = {"ZeroDivisionError": ZeroDivisionError}


def register(site, cls, args):
    with _lock:
        _sites[site] = (cls, tuple(args))


def kernel_exception(site, name, in_kernel, thread, block):
    """The exception the raise at `site` stands for (an instance)."""
    own = _OWN_SITE.fullmatch(site)
    if own and own[2] in _OWN_CLASSES:  # raised by the compiled code itself
        site, cls, args = own[1], _OWN_CLASSES[own[2]], (own[3],)
    else:
        with _lock:
            cls, args = _sites.get(site, (RuntimeError, ("an exception was raised",)))
    if not in_kernel:
        return _make(cls, args, args)
    file, line = site, "?"
    parts = site.rsplit(":", 2)
    if len(parts) == 3:
        file, line = parts[0], parts[1]
    name = name.rsplit(".", 1)[-1]  # numba names the function, not its qualified name
    where = (f"In function '{name}', file {file}, line {line}, "
             f"tid=[{thread[0]}, {thread[1]}, {thread[2]}] "
             f"ctaid=[{block[0]}, {block[1]}, {block[2]}]")
    if len(args) == 1:
        where += f": {args[0]}"
    elif args:
        where += f": {args}"
    return _make(cls, (where,), args)


def _make(cls, args, fallback):
    try:
        return cls(*args)
    except Exception:  # a class whose constructor wants other arguments
        exc = cls.__new__(cls)
        exc.args = tuple(fallback)
        return exc
