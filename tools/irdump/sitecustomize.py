"""Records what ember's compiler produces, for tools/irdump/irdump.py.

Imported by every Python process started while irdump records (its folder is
put first on PYTHONPATH), so kernels compiled in test subprocesses are
recorded too. Where EMBER_IRDUMP_DIR is set, `_ember.compile_kernel` is
wrapped: each fresh compilation (not a disk-cache load) writes its LLVM IR,
and PTX for the cuda target, under that folder, named by a hash of the
compiler's input (the tree, the types and the options). Each host-target
compilation is also compiled for CUDA (compute capability 9.0), so the PTX of
every kernel the suite runs on the cpu device is recorded as well; what the
cuda target refuses is recorded as its error message.
"""

import hashlib
import os


def _write(path, text):
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8", errors="surrogatepass") as f:
        f.write(text)
    os.replace(tmp, path)


def _record(out, key, suffix, make_text):
    path = os.path.join(out, f"{key}.{suffix}")
    if os.path.exists(path):
        return
    try:
        text = make_text()
    except Exception as exc:  # a refusal is recorded: it must not change either
        path = os.path.join(out, f"{key}.{suffix}.err")
        text = f"{type(exc).__name__}: {exc}\n"
    if text is not None:
        _write(path, text)


def _install(out):
    try:
        from ember import _ember
    except ImportError:
        return
    compile_kernel = _ember.compile_kernel
    if getattr(compile_kernel, "_irdump", False):
        return

    def recording_compile_kernel(tree, param_types, *args, **kwargs):
        k = compile_kernel(tree, param_types, *args, **kwargs)
        if "cached" in kwargs:
            return k
        spec = repr((tree, param_types, args, sorted(kwargs.items())))
        key = hashlib.sha256(spec.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        cuda = kwargs.get("target") == "cuda"
        _record(out, key, "nvvm.ll" if cuda else "host.ll", lambda: k.llvm_ir)
        if cuda:
            _record(out, key, "ptx", lambda: k.ptx)
        else:
            opts = dict(kwargs, target="cuda", cc=(9, 0))
            both = lambda: compile_kernel(tree, param_types, *args, **opts)
            _record(out, key, "ptx", lambda: both().ptx)
        name = os.path.join(out, f"{key}.name")
        if not os.path.exists(name):
            _write(name, f"{k.name} {param_types!r}\n")
        return k

    recording_compile_kernel._irdump = True
    _ember.compile_kernel = recording_compile_kernel


def _chain_system_sitecustomize():
    """Runs the sitecustomize this file shadows (Debian's), if any."""
    import importlib.util
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    for d in sys.path:
        if os.path.abspath(d or ".") == here:
            continue
        p = os.path.join(d, "sitecustomize.py")
        if os.path.isfile(p):
            spec = importlib.util.spec_from_file_location("_system_sitecustomize", p)
            spec.loader.exec_module(importlib.util.module_from_spec(spec))
            return


_chain_system_sitecustomize()
if os.environ.get("EMBER_IRDUMP_DIR"):
    import builtins
    _import = builtins.__import__

    import sys

    def _hook(*a, **kw):  # installs the wrapper once ember's extension is imported
        mod = _import(*a, **kw)
        if "ember._ember" in sys.modules:
            builtins.__import__ = _import
            _install(os.environ["EMBER_IRDUMP_DIR"])
        return mod

    builtins.__import__ = _hook
