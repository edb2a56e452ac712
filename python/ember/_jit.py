"""``ember.jit`` / ``ember.njit``: Python functions compiled for the CPU and
called from Python, as numba's ``@njit``.

The function goes through the kernel compiler (the same front end, type
inference and LLVM lowering) with one difference: it is not a kernel. Its
host entry runs the body once on the calling thread and packs the return
value (devices/cpu/lower_jit.c ``host_lower_function``), and ``Kernel.call`` turns it
back into Python objects (python/ext/compile.c), with the GIL released while
it runs (except for a function without loops, which finishes sooner than the
GIL could be handed over).

Arrays: ``np.empty/zeros/ones/full``, their ``*_like`` forms and
``np.arange`` create C-ordered arrays (shape known at run time, dtype at
compile time) in a per-call arena (devices/cpu/host_arrays.c). A returned
array, or view of one, becomes a NumPy array whose base (a capsule) frees
the memory with the last reference; everything else the call created is
freed when it returns, and a loop of the function that creates arrays frees,
at the end of its iterations, those no variable holds any more. A returned
argument is the argument itself (as numba); a view of one is a NumPy view
whose base is the argument.

Specialisation follows numba: one compilation per tuple of argument types
(numba's typeof rules), made at the first call with those types, or at
decoration for explicit signatures (then only those are used). NumPy arrays
are passed without a copy: their data pointer, shape and strides are packed
as they are (compile.c), so the function's stores land in the caller's
array. Calls of
other ``@ember.jit`` functions inside a jitted function are inlined, as
device functions are in kernels.

There is no object mode: ``forceobj=True`` or ``nopython=False`` is an
error, and so is an argument nopython code cannot type (a dict, list, set
...). ``cache=True`` keeps the compiled code on disk for the next process
(python/ember/_compiler/cache.py; ``stats.cache_hits`` counts its hits).
``parallel=True``: each outermost ``for i in prange(...)`` loop of the
function is outlined (devices/cpu/lower_prange.c) and its iterations run in
static chunks on the cpu device's worker pool (devices/cpu/prange.c);
variables assigned in the body are private, except reductions (``s += x``,
``-=``, ``*=``, ``s = min(s, x)``/max) of variables read outside the loop,
combined in chunk order; any other write to such a variable is a
TypingError. Nested pranges, and prange without parallel=True, are range.

Array expressions (``a + b``, ``np.sin(a)``, ``a > 0.5``, ``np.where``
...) make a new C-ordered array with NumPy's broadcasting and NEP 50 result
dtypes; inference (core/infer.c) turns an operator with an array operand
into one ND_ARRAY_EXPR whose scalar body is fused with its array operands',
lowered as one loop nest (core/lower_arrayexpr.c array_map). ``a += b`` and slice
assignment (``a[1:3] = b``, also in kernels) write into the view, copying an
operand that overlaps it first. ``a.copy()``, ``np.copy``, ``a.fill``,
``np.linspace``, ``np.eye`` and ``a.reshape`` (a view of a C-contiguous
array) are there too.

Not supported: the other array makers (np.array, np.identity ...), axis
reductions, boolean indexing, arrays created in a prange body (and so array
expressions there), the rest of np.random (python/ember/_compiler/frontend.py
lists what is there); the README's section on differences from numba lists
the rest.
"""

import functools
import inspect

import numpy as np

from . import _ember
from .errors import TypingError, UnsupportedError
from ._compiler import _enums
from ._compiler import cache as disk_cache
from ._compiler import frontend
from ._compiler import _time
from ._compiler.dispatcher import (DeviceFunction, InspectCompiled, _desc_for_c, _desc_str,
                                   _namedtuple_fields,
                                   _dtype_name, adopt_function, boundscheck_option,
                                   cached_compile, compile_lock, resolve_signature,
                                   function_values, typeof as _kernel_typeof)

__all__ = ["jit", "njit", "prange", "JitDispatcher"]


def prange(*args):
    """``range`` that ``@ember.jit(parallel=True)`` runs on the worker pool
    (numba's prange); in Python, and in functions without parallel=True,
    it is range."""
    return range(*args)

# argument types the C call fast path keys on (jitcall.c: the class, and for
# arrays dtype, ndim, layout and writeability, decide the ember type)
_KEYED_TYPES = (bool, int, float, complex, np.bool_, np.number, np.ndarray)

# numba's options ember.jit accepts (jit() says which it acts on)
_OPTIONS = ("nopython", "forceobj", "fastmath", "nogil", "parallel", "cache", "boundscheck",
            "debug", "opt", "error_model", "inline", "looplift", "no_cpython_wrapper",
            "no_cfunc_wrapper")


def _where(py_func):
    """'file:line' of a function's def."""
    code = getattr(py_func, "__code__", None)
    if code is None:
        return "<unknown>"
    return f"{code.co_filename}:{code.co_firstlineno}"


class JitDispatcher(InspectCompiled, _ember.JitBase):
    """A function compiled by ``@ember.jit``: call it like the Python
    function. ``py_func`` is the original, ``overloads`` maps each compiled
    argument-type tuple to its compiled code, ``signatures`` lists them.

    A call whose arguments are all scalars and NumPy arrays of a shape seen
    before (classes; arrays' dtype, ndim, layout, writeability) runs from C
    (python/ext/jitcall.c, the base class); every other call comes to
    ``_call_slow``."""

    def __init__(self, py_func, fastmath=False, boundscheck=None, debug=False, opt=True,
                 cache=False, parallel=False):
        adopt_function(self, py_func, "ember.jit")
        self.parallel = bool(parallel)  # outermost prange loops run on the worker pool
        self._cache = bool(cache)   # the disk cache (_compiler/cache.py)
        self.stats = disk_cache.CacheStats()
        self.fastmath, self.debug, self.opt = bool(fastmath), bool(debug), bool(opt)
        self.boundscheck = boundscheck_option(boundscheck, debug)
        self.overloads = {}     # argument descriptors -> Kernel (a function)
        self._returns = {}      # eager signature -> declared return descriptor (or None)
        self._declared = {}     # eager signature -> its Signature (with a return type)
        self._enum_returns = {}  # signature -> the Enum class its returns are members of
        self._eager = []        # explicit signatures, in order
        self._lock = compile_lock(self)
        self._pysig = inspect.signature(py_func)
        self._device = None

    def __repr__(self):
        return f"<ember.jit function {self.__qualname__}>"

    def _pickle_recipe(self):
        """What makes this function again in another process: the Python
        function, options and eager signatures (python/ember/_pickle.py)."""
        from ._pickle import Recipe
        r = self.__dict__.get("_recipe")
        if r is None:
            r = self._recipe = Recipe("ember.jit", self.py_func, {})
        r.options = dict(fastmath=self.fastmath, boundscheck=self.boundscheck,
                         debug=self.debug, opt=self.opt, cache=self._cache,
                         parallel=self.parallel)
        r.extra = [(key, self._declared.get(key)) for key in self._eager]
        return r

    def __reduce__(self):
        from ._pickle import reduce_function
        return reduce_function(self, self._pickle_recipe())

    def __get__(self, obj, objtype=None):
        # as a Python function (and numba's dispatcher): a method when
        # looked up on an instance
        if obj is None:
            return self
        import types
        return types.MethodType(self, obj)

    @property
    def signatures(self):
        return list(self.overloads)

    @property
    def nopython_signatures(self):
        return self.signatures

    def _as_device_function(self):
        """The DeviceFunction the compiler inlines when another jitted
        function (or a kernel) calls this one."""
        if self._device is None:
            self._device = DeviceFunction(self.py_func)
        return self._device

    # -- calls (the fast path is JitBase's tp_call) --

    def _call_slow(self, args, kwargs):
        """A call the C fast path did not take: binds the arguments, types
        them, compiles if needed, registers call shapes of scalars and arrays
        for the fast path, and runs the function."""
        kwargs = kwargs or {}
        given = len(args)
        try:
            bound = self._pysig.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.__qualname__}(): {exc}") from None
        bound.apply_defaults()
        args = tuple(_enums.as_argument(a) for a in bound.args)  # Enum members: codes
        sig = self._signature(args)
        key = self._resolve_key(sig)
        k = self.compile(key)
        cast = _return_cast(self._returns.get(key), k.return_type)
        enum_cls = self._enum_returns.get(key)
        if enum_cls is not None and cast is None:   # the member, not its code
            cast = functools.partial(_enums.member_of_code, enum_cls)
        timed = any(_time.has_time(d) for d in sig)
        if not kwargs and len(args) == given and not timed and \
                all(isinstance(a, _KEYED_TYPES) for a in args):
            self._fastpath_register(args, k, cast)
        args = function_values(args, sig)  # functions are compile-time constants
        if timed:  # datetime64 / timedelta64 travel as int64 counts (_compiler/_time.py)
            args = tuple(_time.as_int64(a) for a in args)
        r = k.call(*args)  # NumPy arrays are packed over their own memory (compile.c)
        return r if cast is None or r is None else cast(r)

    def _signature(self, args):
        names = list(self._pysig.parameters)
        return tuple(self._typeof(a, i, names[i] if i < len(names) else "?")
                     for i, a in enumerate(args))

    def _typeof(self, value, i, pname):
        what = f"{self.__name__}: argument {i + 1} ('{pname}')"
        if isinstance(value, (dict, list, set, frozenset)) or \
                type(value).__name__ in ("TypedDict", "List"):
            kind = type(value).__name__
            raise TypingError(
                f"{_where(self.py_func)}: {what} is a {kind}, which nopython mode cannot "
                f"type (ember.jit has no object mode)\n"
                f"hint: pass a NumPy array (np.asarray) or a tuple instead of the {kind}")
        if isinstance(value, np.ndarray):
            if value.ndim == 0:
                raise TypingError(f"{what}: 0-d arrays are not supported; pass the scalar "
                                  "(a[()]) or a 1-element array")
            f = value.flags
            layout = "C" if f["C_CONTIGUOUS"] else ("F" if f["F_CONTIGUOUS"] else "A")
            try:
                dt = _dtype_name(value.dtype, what)
            except TypeError as exc:
                raise TypingError(str(exc).replace("passed to a kernel",
                                                   "passed to an ember.jit function")) from None
            return ("array", dt, value.ndim, layout, not f["WRITEABLE"])
        if isinstance(value, tuple):
            items = tuple(self._typeof(v, i, f"{pname}[{j}]") for j, v in enumerate(value))
            for j, d in enumerate(items):
                if isinstance(d, tuple) and d[0] == "function":
                    raise TypingError(f"{what}[{j}]: a function inside a tuple cannot be "
                                      "passed; pass the function as an argument of its own")
            fields = _namedtuple_fields(value)
            return ("tuple", items, fields) if fields else ("tuple", items)
        if value is None:
            raise TypingError(f"{what}: None cannot be passed to an ember.jit function yet")
        from .cuda._devicearray import DeviceNDArray
        if isinstance(value, DeviceNDArray) and value.device.kind != "cpu":
            raise TypingError(f"{what} lives on {value.device}; ember.jit functions run on "
                              "the CPU: pass a NumPy array (d.copy_to_host())")
        try:
            return _kernel_typeof(value, what)
        except TypeError as exc:
            msg = str(exc).replace("a kernel cannot take", "an ember.jit function cannot take")
            raise TypingError(f"{_where(self.py_func)}: {msg}") from None

    # -- specialisation --

    def _sig_key(self, sig):
        from . import types as ty
        if isinstance(sig, (str, ty.Signature)):
            return ty.as_signature(sig).descriptors()
        return tuple(a.descriptor() if isinstance(a, ty.Type) else a for a in sig)

    def _add_eager(self, sig):
        """Compiles an explicit signature now (``@ember.jit("f8(f8, f8)")``)."""
        from . import types as ty
        s = ty.as_signature(sig) if isinstance(sig, (str, ty.Signature)) else None
        key = self._sig_key(sig)
        ret = s.return_type if s is not None else None
        if ret is not None and not isinstance(ret, ty.NoneType):
            self._returns[key] = ret.descriptor()
            self._declared[key] = s
        self.compile(key)
        if key not in self._eager:
            self._eager.append(key)
        self._fastpath_clear()  # a call shape may now resolve to another signature

    def _resolve_key(self, sig):
        """The compiled signature for argument types `sig` (resolve_signature)."""
        return resolve_signature(sig, self.overloads, self._eager, "ember.jit function",
                                 self.__qualname__)

    def compile(self, sig):
        """The compiled code for argument types `sig` (a tuple of type
        descriptors or ember types, or a signature string)."""
        sig = self._sig_key(sig)
        return cached_compile(self.overloads, self._lock, sig, lambda: self._compile(sig))

    def _compile(self, sig):
        tree, info = frontend.build_tree(self.py_func, False, sig, jit=True,
                                         self_signature=self._declared.get(sig),
                                         parallel=self.parallel)
        if info.returns_enum is not None:
            self._enum_returns[sig] = info.returns_enum
        try:
            return disk_cache.compile_kernel(tree, [_desc_for_c(d) for d in sig],
                                             0 if (self.debug or not self.opt) else 3,
                                             self.boundscheck, self.fastmath,
                                             cache=self._cache, py_func=self.py_func,
                                             stats=self.stats, signature=sig)
        except (TypingError, UnsupportedError) as exc:
            line = getattr(exc, "line", 0) or 0
            col = getattr(exc, "col", 0) or 0
            msg = frontend._as_function_words(getattr(exc, "msg", None) or str(exc))
            types = ", ".join(_desc_str(d) for d in sig)
            extra = f"(compiling ember.jit function {self.__qualname__} for argument types " \
                    f"({types}))"
            fname = getattr(exc, "filename", None) or info.filename
            if fname != info.filename:
                info = frontend.SourceInfo(fname, 1, [], 0)
            new = type(exc)(frontend.format_error(info, line, col, msg,
                                                  hint=getattr(exc, "hint", None),
                                                  extra=extra))
            new.filename, new.line, new.col, new.msg = info.filename, line, col, msg
            raise new from None

    # -- inspection --

    def inspect_types(self, signature=None, file=None, pretty=False):
        """Prints the source annotated with the type of every variable, call
        and return value, for each compiled signature (or one), as numba's
        inspect_types."""
        from ._compiler._annotate import annotate
        import sys
        out = sys.stdout if file is None else file
        if signature is not None:
            key = self._sig_key(signature)
            items = [(key, self.compile(key))]
        else:
            items = list(self.overloads.items())
        for key, k in items:
            out.write(annotate(self.py_func, key, k.ir, _desc_str, return_type=k.return_type))


def _scalar_cast(desc):
    if desc == "bool":
        return bool
    kind = np.dtype(desc).kind
    return int if kind in "iu" else (float if kind == "f" else complex)


def _return_cast(declared, inferred):
    """A function converting the returned value to the declared return type
    of an explicit signature (numba casts the return value); None when no
    conversion is needed."""
    if declared is None or _desc_str(declared) == inferred:
        return None
    if isinstance(declared, str):
        f = _scalar_cast(declared)
        return lambda v: None if v is None else f(v)
    if declared[0] == "tuple":
        casts = [_scalar_cast(d) if isinstance(d, str) else (lambda v: v) for d in declared[1]]
        return lambda v: tuple(c(x) for c, x in zip(casts, v))
    return None  # an array comes back as it is


def jit(signature_or_function=None, locals=None, cache=False, pipeline_class=None,
        boundscheck=None, **options):
    """``@ember.jit`` (= ``@ember.njit``): compile a function for the CPU in
    nopython mode, lazily per argument types, or eagerly for the given
    signatures (a string like ``"float64(float64, float64)"``, a Signature
    or a list of them). Options: ``fastmath``, ``boundscheck``, ``debug``,
    ``cache`` (the disk cache), ``parallel`` (prange loops on the worker
    pool; numba's dict form counts as True unless its "prange" is False);
    ``nopython=True`` and ``nogil`` are accepted (ember.jit is always
    nopython and releases the GIL)."""
    for name in options:
        if name not in _OPTIONS:
            raise TypeError(f"ember.jit: unknown option {name}=")
    if options.get("forceobj") or options.get("nopython", True) is False:
        raise UnsupportedError("ember.jit: object mode (forceobj=True, nopython=False) does "
                               "not exist in ember; functions always compile in nopython mode")
    parallel = options.get("parallel", False)
    if isinstance(parallel, dict):  # numba's {"prange": True, ...}: prange is what ember does
        parallel = bool(parallel.get("prange", True))
    fastmath = options.get("fastmath", False)
    if isinstance(fastmath, (set, frozenset, list, tuple)):
        fastmath = bool(fastmath)  # numba's flag sets: any flag turns fast math on
    kw = dict(fastmath=fastmath, boundscheck=boundscheck, debug=options.get("debug", False),
              opt=options.get("opt", True), cache=bool(cache), parallel=bool(parallel))
    from . import types as _ty
    if isinstance(signature_or_function, (str, list, tuple, _ty.Signature)):
        sigs = signature_or_function if isinstance(signature_or_function, list) \
            else [signature_or_function]
        sigs = [_ty.as_signature(s) for s in sigs]   # a bad string fails here

        def eager(fn):
            d = JitDispatcher(fn, **kw)
            for s in sigs:
                d._add_eager(s)
            return d
        return eager

    def wrap(fn):
        return JitDispatcher(fn, **kw)

    if signature_or_function is None:
        return wrap
    if isinstance(signature_or_function, JitDispatcher):
        return signature_or_function
    return wrap(signature_or_function)


njit = jit
