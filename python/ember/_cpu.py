"""``ember.cpu``: the CPU device's topology, as hwloc reports it.

The CPU device runs kernels when no GPU is present (or with
``EMBER_DEVICE=cpu``); its worker pool has one thread per hardware thread
unless ``EMBER_NUM_THREADS`` says otherwise.
"""

from . import _ember


class CPUInfo:
    """Packages, cores, hardware threads (PUs), NUMA nodes and caches of this machine."""

    __slots__ = ("_info",)

    def __init__(self):
        self._info = None

    def _get(self):
        if self._info is None:
            self._info = _ember.cpu_topology()
        return self._info

    @property
    def model(self):
        return self._get()["model"]

    @property
    def packages(self):
        return self._get()["packages"]

    @property
    def cores(self):
        return self._get()["cores"]

    @property
    def pus(self):
        """Hardware threads (processing units)."""
        return self._get()["pus"]

    @property
    def numa_nodes(self):
        return self._get()["numa_nodes"]

    @property
    def workers(self):
        """Threads in ember's worker pool."""
        return self._get()["workers"]

    @property
    def caches(self):
        """Size in bytes of one cache of each level: {'L1d': ..., 'L2': ..., 'L3': ...}."""
        info = self._get()
        return {"L1d": info["l1d_bytes"], "L2": info["l2_bytes"], "L3": info["l3_bytes"]}

    @property
    def blas(self):
        """The BLAS library that float matrix products of ember.jit functions
        call (``np.dot``, ``@``), or None when there is none (a compiled loop
        does them). ``EMBER_BLAS`` names another library, or ``none``."""
        return self._get()["blas"] or None

    def as_dict(self):
        return dict(self._get())

    def __repr__(self):
        return (f"<ember.cpu {self.model!r}: {self.packages} package(s), {self.cores} cores, "
                f"{self.pus} threads, {self.numa_nodes} NUMA node(s), {self.workers} workers>")


cpu = CPUInfo()
