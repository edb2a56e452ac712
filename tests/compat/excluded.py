"""Tests of numba's CUDA suite that check only numba's internals, excluded
from the compat score by name (a whole file, a class 'file::Class' or one test
'file::Class.test'), each with the reason. A user-visible feature is never
excluded: a missing feature is a failing test."""

EXCLUDED = {
    "cudadrv/test_nvvm_driver.py":
        "numba's NVVM binding class and the LLVM IR text its code generator emits",
    "cudadrv/test_ir_patch.py":
        "numba's rewriting of LLVM IR text for old NVVM versions",
    "cudadrv/test_inline_ptx.py":
        "builds llvmlite IR through numba's code generator (llvmlite is not an ember API)",
    "cudadrv/test_cuda_driver.py":
        "calls numba's ctypes driver object (driver.cuModuleLoadDataEx, host_to_device on "
        "numba memory objects) directly",
    "cudadrv/test_cuda_memory.py":
        "numba's MemoryPointer objects, driver.host_to_device and host_memory_extents",
    "cudadrv/test_runtime.py":
        "numba's cudart binding and its table of supported runtime versions",
    "cudadrv/test_init.py":
        "patches numba's driver initialisation internals with mock",
    "cudadrv/test_cuda_libraries.py":
        "numba's search for CUDA libraries (numba.misc)",
    "cudadrv/test_ptds.py":
        "reads the log of numba's ctypes driver calls",
    "cudadrv/test_detect.py::TestCUDAFindLibs":
        "numba's search for CUDA libraries",
    "cudadrv/test_deallocations.py::TestDeallocation":
        "counts in numba's deferred-deallocation queue (CUDA_DEALLOCS_COUNT/RATIO)",
    "cudapy/test_extending.py":
        "numba's low-level extension API: typing templates, data models, lowering functions",
    "cudapy/test_gufunc_scheduling.py":
        "numba's GUFuncEngine class (numba.np.ufunc.deviceufunc), its internal loop scheduler",
    "cudapy/test_const_string.py::TestConstStringCodegen":
        "drives numba's code generator (cgutils, llvmlite) directly",
    "cudapy/test_cooperative_groups.py::TestCudaCooperativeGroups."
    "test_false_cooperative_doesnt_link_cudadevrt":
        "reads the files numba's code library links (_codelibrary._linking_files); ember "
        "links no cudadevrt (its grid barrier is its own)",
}
