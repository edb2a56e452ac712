"""Puts the stand-in `numba` in front for processes that numba's tests
start themselves (test_print runs `python -c "from numba import cuda ..."`):
run.py adds this folder to PYTHONPATH of the ember run, so `import numba` in
those children is the same renaming as in the test's own process. Then it
runs the sitecustomize this one shadows (Debian has one), if any."""

import importlib.machinery
import importlib.util
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(_here))      # standin/
import numba_standin  # noqa: E402

numba_standin.install()

_others = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]
_spec = importlib.machinery.PathFinder.find_spec("sitecustomize", _others)
if _spec is not None and _spec.loader is not None:
    _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)
