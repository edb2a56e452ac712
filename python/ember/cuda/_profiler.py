"""cuda.profile_start / profile_stop / profiling(): bracket the part of a
program a profiler (Nsight Systems/Compute with --capture-range=cudaProfilerApi,
nvprof) collects, on the current device. On the CPU device they do nothing."""

import contextlib

from .. import _ember
from ._devices import get_current_device

__all__ = ["profile_start", "profile_stop", "profiling"]


def profile_start():
    dev = get_current_device()
    _ember.profiler(dev.kind, dev.id, True)


def profile_stop():
    dev = get_current_device()
    _ember.profiler(dev.kind, dev.id, False)


@contextlib.contextmanager
def profiling():
    profile_start()
    try:
        yield
    finally:
        profile_stop()
