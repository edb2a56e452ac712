"""Pickling of ember's compiled functions and device arrays, so that Dask,
multiprocessing and MPI programs can ship them to other processes.

What travels is what is needed to compile again, never machine code: the
receiver compiles (or loads from its disk cache, ``cache=True``) for its own
CPU or GPU.

* ``@cuda.jit`` kernels, device functions, ``ember.jit`` functions and the
  ``vectorize`` / ``guvectorize`` ufuncs travel **by reference** when pickle
  can find them again as ``module.qualname`` (a top-level name of an
  importable module): the receiver imports the module, which makes them
  with their options and eager signatures, as for any pickled function.
* Otherwise (defined in ``__main__``, a notebook or inside a function) they
  travel **by value**: the Python function (pickled with cloudpickle, which
  Dask installs; its globals and closure go with it), its source text (the
  front end compiles from source: a receiver without the file, or with
  another version of it, reads the text shipped), the options and the eager
  signatures, which the receiver compiles when it unpickles.
* Each object pickled by value carries a token: a process that unpickles the
  same object twice gets one object, with the specialisations it compiled
  (Dask sends a task's function with every task), and the sending process
  gets back its own object. (A ufunc is the exception on the sending side:
  NumPy's ufuncs cannot be referenced weakly, so it gets a new one; a
  process that received a ufunc keeps it for its lifetime.)
* ``DeviceNDArray``: the data as a NumPy array (on the cpu device a view of
  the array's memory: with pickle protocol 5 and a buffer callback, as Dask
  uses, it travels out of band with no copy), restored on the receiver's
  current device. Streams and events are tied to one process's device and
  refuse to be pickled.

A kernel that calls itself (a recursive device function with a signature)
refers to itself from its globals; that reference is replaced by a
placeholder while it is pickled and pointed at the rebuilt object on the
receiver.
"""

import hashlib
import importlib
import inspect
import io
import linecache
import os
import pickle
import sys
import threading
import uuid
import weakref

import numpy as np

__all__ = ["reduce_function", "reduce_device_array", "Recipe"]

# token -> Recipe of an object pickled or rebuilt in this process (one object
# per token); the Recipe holds the object (numpy.ufunc has no weak references)
_live = weakref.WeakValueDictionary()
_live_lock = threading.RLock()


def _new_live_lock():  # in a forked child: the parent's may be held by a thread not there
    global _live_lock
    _live_lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_live_lock)
# objects whose function is being pickled by value on this thread
_in_progress = threading.local()
# file names whose linecache entries were made here from shipped source
_seeded = set()

_MAIN_MODULES = ("__main__", "__mp_main__")
_FILLER = "pass\n"   # a line of a file that was not shipped


class Recipe:
    """What makes an ember object again: `kind` ("cuda.jit", "device",
    "ember.jit", "vectorize", "guvectorize", "dufunc"), the Python function, the
    options and the `extra` (eager signatures). Objects made by decorators
    carry one; np.ufuncs carry it as their owner (python/ext/ufunc.c)."""

    __slots__ = ("kind", "py_func", "options", "extra", "token", "obj", "__weakref__")

    def __init__(self, kind, py_func, options, extra=()):
        self.kind, self.py_func, self.options, self.extra = kind, py_func, options, extra
        self.token = None   # set when first pickled by value
        self.obj = None     # the object, once it has a token (a cycle the GC collects)


# ---------------------------------------------------------------------------
# By reference
# ---------------------------------------------------------------------------

def _lookup(module, qualname):
    obj = sys.modules.get(module)
    for part in qualname.split("."):
        if obj is None:
            return None
        obj = getattr(obj, part, None)
    return obj


def _importable_as(obj, py_func):
    """(module, qualname) under which `obj` is found again, or None."""
    module = getattr(py_func, "__module__", None)
    qualname = getattr(py_func, "__qualname__", None)
    if not module or not qualname or module in _MAIN_MODULES or "<locals>" in qualname:
        return None
    return (module, qualname) if _lookup(module, qualname) is obj else None


def _by_reference(module, qualname):
    """The receiver's side of a by-reference pickle: import and look up."""
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


# ---------------------------------------------------------------------------
# By value
# ---------------------------------------------------------------------------

class _Self:
    """Stands for the object being rebuilt inside its own function's globals
    or closure (a recursive function)."""


def _source_of(py_func):
    """(file name, first line, lines) of the function's source, or None."""
    try:
        lines, first = inspect.getsourcelines(py_func)
        filename = inspect.getsourcefile(py_func) or inspect.getfile(py_func)
    except (OSError, TypeError):
        return None
    return filename, first, list(lines)


def _cloudpickle():
    try:
        import cloudpickle
    except ImportError:
        return None
    return cloudpickle


def _dumps_state(obj, state):
    cloudpickle = _cloudpickle()
    if cloudpickle is None:
        name = getattr(state["py_func"], "__qualname__", "?")
        raise pickle.PicklingError(
            f"cannot pickle {name}: it is defined in __main__ or inside a function, so it must "
            "travel by value, and that needs cloudpickle (Debian: python3-cloudpickle; Dask "
            "installs it). A function defined at the top level of an importable module "
            "travels by reference without it.")

    class _Pickler(cloudpickle.CloudPickler):
        def persistent_id(self, o):
            return "ember-self" if o is obj else None

    buf = io.BytesIO()
    _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
    return buf.getvalue()


class _Unpickler(pickle.Unpickler):
    def __init__(self, data, placeholder):
        super().__init__(io.BytesIO(data))
        self.placeholder = placeholder

    def persistent_load(self, pid):
        if pid != "ember-self":
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        return self.placeholder


def _token(obj, recipe):
    """The object's token (made at its first pickling); registers it."""
    with _live_lock:
        if recipe.token is None:
            recipe.token = uuid.uuid4().hex
        if not isinstance(obj, np.ufunc):
            # a ufunc does not let the GC see its Recipe: the back reference
            # would keep it forever, so the sender gets a new one from loads
            recipe.obj = obj
        _live[recipe.token] = recipe
    return recipe.token


def reduce_function(obj, recipe):
    """``__reduce__`` of a kernel, device function, jitted function or ufunc
    whose Recipe is `recipe`."""
    ref = _importable_as(obj, recipe.py_func)
    if ref is not None:
        return _by_reference, ref
    stack = _in_progress.__dict__.setdefault("stack", [])
    if any(o is obj for o in stack):
        raise pickle.PicklingError(
            f"cannot pickle {recipe.py_func.__qualname__} by value: it is part of a cycle of "
            "functions that call each other; define them at the top level of an importable "
            "module so that they travel by reference")
    token = _token(obj, recipe)
    state = {"kind": recipe.kind, "py_func": recipe.py_func, "options": recipe.options,
             "extra": recipe.extra, "source": _source_of(recipe.py_func)}
    stack.append(obj)
    try:
        data = _dumps_state(obj, state)
    finally:
        stack.pop()
    return _by_value, (token, data)


def _by_value(token, data):
    """The receiver's side of a by-value pickle: the object this process
    already has for `token`, else a new one made from the shipped state."""
    recipe = _live.get(token)
    if recipe is not None and recipe.obj is not None:
        return recipe.obj
    with _live_lock:
        recipe = _live.get(token)
        if recipe is not None and recipe.obj is not None:
            return recipe.obj
        placeholder = _Self()
        state = _Unpickler(data, placeholder).load()
        py_func = state["py_func"]
        _install_source(py_func, state["source"])
        obj = _make(state["kind"], py_func, state["options"], state["extra"])
        _replace_placeholder(py_func, placeholder, obj)
        recipe = _recipe_of(obj)
        recipe.token, recipe.obj = token, obj   # a received ufunc stays for good
        _live[token] = recipe
    return obj


def _replace_placeholder(py_func, placeholder, obj):
    g = py_func.__globals__
    for name, value in list(g.items()):
        if value is placeholder:
            g[name] = obj
    for cell in py_func.__closure__ or ():
        try:
            if cell.cell_contents is placeholder:
                cell.cell_contents = obj
        except ValueError:  # an empty cell
            pass


def _install_source(py_func, source):
    """Makes the shipped source what inspect reads for `py_func`: nothing to
    do when its file here has the same text; else the text goes into
    linecache under the file's name (under a name of its own when a file of
    that name exists here with other text)."""
    if source is None:
        return
    filename, first, lines = source
    try:
        if inspect.getsourcelines(py_func) == (lines, first):
            return
    except (OSError, TypeError):
        pass
    name = filename
    if os.path.exists(filename) and filename not in _seeded:
        digest = hashlib.sha1("".join(lines).encode()).hexdigest()[:12]
        name = f"{filename} (pickled {digest})"
        py_func.__code__ = py_func.__code__.replace(co_filename=name)
    entry = linecache.cache.get(name)
    text = list(entry[2]) if name in _seeded and entry and len(entry) == 4 else []
    end = first - 1 + len(lines)
    if len(text) < end:
        # lines not shipped: a statement at column 0 ends the block before
        # it, as the enclosing code would (inspect finds a block's end by
        # its dedent)
        text += [_FILLER] * (end - len(text))
    text[first - 1:end] = lines
    # mtime None: linecache.checkcache leaves the entry alone
    linecache.cache[name] = (sum(map(len, text)), None, text, name)
    _seeded.add(name)


def _make(kind, py_func, options, extra):
    """A new object of `kind` for `py_func`, as its decorator made it."""
    if kind == "cuda.jit":
        from ._compiler.dispatcher import Dispatcher
        d = Dispatcher(py_func, **options)
        for key in extra:
            d._add_eager(key)
        return d
    if kind == "device":
        from ._compiler.dispatcher import DeviceFunction
        return DeviceFunction(py_func, extra)
    if kind == "ember.jit":
        from ._jit import JitDispatcher
        d = JitDispatcher(py_func, **options)
        for key, declared in extra:
            d._add_eager(declared if declared is not None else key)
        return d
    if kind in ("vectorize", "guvectorize"):
        from . import _ufunc
        return getattr(_ufunc, kind)(*extra, **options)(py_func)
    if kind == "dufunc":  # vectorize without signatures, and the loops it had compiled
        from . import _ufunc
        u = _ufunc.vectorize(**options)(py_func)
        keys, frozen = extra
        for key in keys:
            u._install([_ufunc._supported(np.dtype(d), u.__name__) for d in key])
        if frozen:
            u.disable_compile()
        return u
    raise pickle.UnpicklingError(f"unknown kind of ember object {kind!r}")


def _recipe_of(obj):
    if isinstance(obj, np.ufunc):
        from . import _ember
        return _ember.ufunc_owner(obj)
    return obj._pickle_recipe()


# ---------------------------------------------------------------------------
# numpy.ufunc: ember's ufuncs carry a Recipe; NumPy's reducer does the rest
# ---------------------------------------------------------------------------

_numpy_ufunc_reduce = None


def install_ufunc_reducer():
    """Puts ember's reducer for numpy.ufunc in copyreg (cloudpickle reads the
    same table): ufuncs ember made pickle through their Recipe, every other
    ufunc through NumPy's own reducer, as before."""
    global _numpy_ufunc_reduce
    import copyreg
    current = copyreg.dispatch_table.get(np.ufunc)
    if current is _reduce_ufunc:
        return
    _numpy_ufunc_reduce = current
    copyreg.pickle(np.ufunc, _reduce_ufunc)


def _reduce_ufunc(u):
    from . import _ember
    recipe = _ember.ufunc_owner(u)
    if isinstance(recipe, Recipe):
        return reduce_function(u, recipe)
    if _numpy_ufunc_reduce is not None:
        return _numpy_ufunc_reduce(u)
    return u.__name__


# ---------------------------------------------------------------------------
# Device arrays, streams, events
# ---------------------------------------------------------------------------

def reduce_device_array(d):
    """``DeviceNDArray.__reduce__``: the data on the host, as a NumPy array
    (on the cpu device a view of the array's memory, no copy; records,
    which have no buffer format, are copied)."""
    if d.device.kind == "cpu" and d.dtype.fields is None:
        host = np.asarray(memoryview(d))   # the buffer protocol: the memory itself
    else:
        host = d.copy_to_host()
    return _rebuild_device_array, (host,)


def _rebuild_device_array(host):
    """The array on this process's current device. On the cpu device a
    writeable, aligned NumPy array that arrived with the pickle is adopted
    as it is (nothing else refers to it), else copied."""
    from . import _ember
    from .cuda import _devices
    from .cuda._devicearray import DeviceNDArray
    from .cuda._inplace import byte_bounds
    from .cuda._memory import to_device
    dev = _devices.get_current_device()
    if host.ndim == 0 and host.dtype.fields is not None:
        return to_device(host[()])  # a DeviceRecord again
    if dev.kind == "cpu" and host.flags.writeable and host.flags.aligned and \
            (host.flags.c_contiguous or host.flags.f_contiguous) and host.size:
        lo, hi = byte_bounds(host)   # the array keeps `host` alive
        return _ember.from_device_pointer(DeviceNDArray, dev.kind, dev.id, lo, hi - lo,
                                          host.shape, host.strides, host.dtype, host,
                                          offset=host.ctypes.data - lo)
    return to_device(host)


def refuse(what):
    """``__reduce__`` of streams and events."""
    raise TypeError(
        f"cannot pickle {what}: it belongs to one process's device context and means nothing "
        f"in another process; create one where it is used (cuda.stream(), cuda.event())")
