"""The stand-in `numba` package: numba's CUDA tests import `numba`, and this
finder answers with ember's own modules under numba's names.

It may only do two things (tests/compat/README.md says why):
  * rename: `numba.cuda` is a module that forwards every attribute to
    `ember.cuda`, and so on for the table RENAMES below. Nothing is added,
    wrapped or patched; a name ember lacks is an AttributeError/ImportError
    and the test that needs it fails;
  * provide numba's test harness: `numba.cuda.testing`, `numba.tests.support`,
    `numba.testing` and the config flags `numba.core.config` (harness_*.py).
The test files themselves, and the use-case modules beside them, are loaded
unchanged from Debian's numba installation (NUMBA_DIR).
"""

import importlib
import importlib.abc
import importlib.util
import os
import sys
import types

import harness_config
import harness_cuda_testing
import harness_support
import harness_testing

# numba's module -> ember modules, first that imports wins.
RENAMES = {
    "numba": ["ember"],
    "numba.cuda": ["ember.cuda"],
    "numba.types": ["ember.types"],
    "numba.core": [],  # a package that only holds the renamed modules below
    "numba.core.types": ["ember.types"],
    "numba.core.errors": ["ember.errors"],
    "numba.core.extending": ["ember.extending"],
    "numba.core.cgutils": ["ember.cgutils"],
    "numba.cuda.cudaimpl": ["ember.cuda.cudaimpl"],
    "numba.extending": ["ember.extending"],
    "numba.np": ["ember.np"],
    "numba.np.numpy_support": ["ember.np.numpy_support"],
    "numba.cuda.random": ["ember.cuda.random"],
    "numba.cuda.args": ["ember.cuda.args"],
    "numba.cuda.libdevice": ["ember.cuda.libdevice"],
    "numba.cuda.fp16": ["ember.cuda.fp16"],
    "numba.cuda.vector_types": ["ember.cuda.vector_types"],
    "numba.cuda.cudadrv": [],
    "numba.cuda.cudadrv.devicearray": ["ember.cuda.devicearray"],
    "numba.cuda.cudadrv.driver": ["ember.cuda.cudadrv.driver"],
    "numba.cuda.cudadrv.error": ["ember.cuda"],
    "numba.cuda.cudadrv.devices": ["ember.cuda"],
    "numba.cuda.cudadrv.nvvm": ["ember.cuda.cudadrv.nvvm"],
}

HARNESS = {
    "numba.cuda.testing": harness_cuda_testing,
    "numba.tests.support": harness_support,
    "numba.testing": harness_testing,
    "numba.core.config": harness_config,
    "numba.config": harness_config,
}

# Packages whose files come unchanged from Debian's numba: the tests and
# their use-case modules.
NUMBA_DIR = os.path.join(os.path.dirname(importlib.util.find_spec("numpy").origin),
                         os.pardir, "numba")
NUMBA_DIR = os.path.normpath(NUMBA_DIR)
SOURCE_PACKAGES = {
    "numba.tests": os.path.join(NUMBA_DIR, "tests"),
    "numba.tests.npyufunc": os.path.join(NUMBA_DIR, "tests", "npyufunc"),
    "numba.cuda.tests": os.path.join(NUMBA_DIR, "cuda", "tests"),
    "numba.cuda.tests.cudapy": os.path.join(NUMBA_DIR, "cuda", "tests", "cudapy"),
    "numba.cuda.tests.cudadrv": os.path.join(NUMBA_DIR, "cuda", "tests", "cudadrv"),
}


class Renamed(types.ModuleType):
    """A module whose attributes are those of an ember module."""

    def __init__(self, name, target):
        super().__init__(name)
        self.__path__ = []  # may hold renamed or harness submodules
        self._ember = target
        if target is not None:
            self.__all__ = [n for n in dir(target) if not n.startswith("_")]

    def __getattr__(self, attr):
        if self._ember is None or attr.startswith("__"):
            raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}")
        return getattr(self._ember, attr)

    def __dir__(self):
        return sorted(set(self.__dict__) | set(self.__all__ if self._ember else ()))


def _first_import(candidates):
    for name in candidates:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


class _Loader(importlib.abc.Loader):
    def __init__(self, make):
        self._make = make

    def create_module(self, spec):
        return self._make()

    def exec_module(self, module):
        pass


class StandinFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "numba" and not name.startswith("numba."):
            return None
        if name in HARNESS:
            mod = HARNESS[name]
            return importlib.util.spec_from_loader(name, _Loader(lambda: mod))
        if name in SOURCE_PACKAGES:
            pkg_dir = SOURCE_PACKAGES[name]

            def make_package():
                # The package's own __init__ (numba's loaders, its test
                # discovery) is not run: only its directory is used.
                mod = types.ModuleType(name)
                mod.__path__ = [pkg_dir]
                return mod
            spec = importlib.util.spec_from_loader(name, _Loader(make_package),
                                                   is_package=True)
            spec.submodule_search_locations = [pkg_dir]
            return spec
        parent = name.rpartition(".")[0]
        if parent in SOURCE_PACKAGES:
            file = os.path.join(SOURCE_PACKAGES[parent], name.rpartition(".")[2] + ".py")
            if os.path.isfile(file):
                return importlib.util.spec_from_file_location(name, file)
            return None
        if name in RENAMES:
            candidates = RENAMES[name]
            target = _first_import(candidates)
            if candidates and target is None:
                return None  # ember has no such module: ModuleNotFoundError
            spec = importlib.util.spec_from_loader(
                name, _Loader(lambda: Renamed(name, target)), is_package=True)
            spec.submodule_search_locations = []
            return spec
        return None  # a numba module ember does not rename: not found


def install():
    for mod in [m for m in sys.modules if m == "numba" or m.startswith("numba.")]:
        del sys.modules[mod]
    sys.meta_path.insert(0, StandinFinder())
