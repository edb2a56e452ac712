"""``ember.cuda.cudadrv.driver``: the public names numba's driver module
gives EMM plugins and IPC users — the memory pointer classes, the memory
manager base classes, ``set_memory_manager``, ``IpcHandle``,
``MemoryInfo`` — its ``Stream`` and ``Event`` classes and its error
classes. They are ember's own objects
(cuda/_emm.py, cuda/_ipc.py); ember has no ctypes driver object to expose."""

from ...errors import CudaAPIError, CudaDriverError  # noqa: F401
from .._devices import MemoryInfo  # noqa: F401
from .._emm import (AutoFreePointer, BaseCUDAMemoryManager, GetIpcHandleMixin,  # noqa: F401
                    HostOnlyCUDAMemoryManager, ManagedMemory, MappedMemory, MemoryPointer,
                    OwnedPointer, PinnedMemory, set_memory_manager)
from .._ipc import IpcHandle  # noqa: F401
from .._streams import Event, Stream  # noqa: F401
