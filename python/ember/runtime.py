"""Runtime counters: what ember has moved between host and devices.

``stats()`` returns the bytes and number of copies per direction since the
last ``reset_stats()``, plus allocation counts. Host-side memory (NumPy
arrays, pinned and mapped memory) is the host; device memory of any device,
the CPU device included, is the device. Tests use these counters to assert
that exactly the necessary data moved.
"""

from . import _ember


def stats():
    """Return a dict: htod/dtoh/dtod/htoh ``_bytes`` and ``_copies``,
    ``allocations``, ``frees`` and ``bytes_allocated`` (live device bytes)."""
    return _ember.stats()


def reset_stats():
    """Zero the transfer and allocation counters (live bytes stay)."""
    _ember.reset_stats()
