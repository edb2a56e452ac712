"""Exceptions raised by ember (the extension ``ember._ember`` raises these too).

``CudaAPIError`` takes ``(code, msg)`` like numba's, so code that catches
numba's exceptions by attribute (``.code``, ``.msg``) keeps working.
"""

__all__ = [
    "EmberError",
    "CudaSupportError",
    "CudaDriverError",
    "CudaAPIError",
    "CompilerError",
    "TypingError",
    "UnsupportedError",
    "EmberWarning",
    "EmberPerformanceWarning",
    # numba's names for the same classes, so code that catches or filters
    # numba's exceptions and warnings keeps working after the import change
    "NumbaError",
    "NumbaWarning",
    "NumbaPerformanceWarning",
    "NumbaDeprecationWarning",
    "NumbaInvalidConfigWarning",
]

# The CUresult names ember is likely to report; others print as "CUresult N".
_CURESULT_NAMES = {
    0: "CUDA_SUCCESS",
    1: "CUDA_ERROR_INVALID_VALUE",
    2: "CUDA_ERROR_OUT_OF_MEMORY",
    3: "CUDA_ERROR_NOT_INITIALIZED",
    4: "CUDA_ERROR_DEINITIALIZED",
    34: "CUDA_ERROR_STUB_LIBRARY",
    100: "CUDA_ERROR_NO_DEVICE",
    101: "CUDA_ERROR_INVALID_DEVICE",
    200: "CUDA_ERROR_INVALID_IMAGE",
    201: "CUDA_ERROR_INVALID_CONTEXT",
    209: "CUDA_ERROR_NO_BINARY_FOR_GPU",
    218: "CUDA_ERROR_INVALID_PTX",
    222: "CUDA_ERROR_UNSUPPORTED_PTX_VERSION",
    301: "CUDA_ERROR_FILE_NOT_FOUND",
    400: "CUDA_ERROR_INVALID_HANDLE",
    500: "CUDA_ERROR_NOT_FOUND",
    600: "CUDA_ERROR_NOT_READY",
    700: "CUDA_ERROR_ILLEGAL_ADDRESS",
    701: "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
    702: "CUDA_ERROR_LAUNCH_TIMEOUT",
    716: "CUDA_ERROR_MISALIGNED_ADDRESS",
    719: "CUDA_ERROR_LAUNCH_FAILED",
    999: "CUDA_ERROR_UNKNOWN",
}


class EmberError(Exception):
    """Base class of every exception that ember defines."""


class CudaSupportError(EmberError, RuntimeError):
    """CUDA is unusable here: no driver library or no device."""


class CudaDriverError(EmberError, RuntimeError):
    """The CUDA driver is in a state ember cannot use (numba's name)."""


class CudaAPIError(CudaDriverError):
    """A CUDA driver call failed; ``code`` is its CUresult, ``name`` its name."""

    def __init__(self, code, msg, name=None):
        code = int(code)
        super().__init__(code, msg)
        self.code = code
        self.msg = msg
        self.name = name or _CURESULT_NAMES.get(code, "CUresult %d" % code)

    def __str__(self):
        return "[%d] %s: %s" % (self.code, self.name, self.msg)

    def __reduce__(self):
        return (type(self), (self.code, self.msg, self.name))


class CompilerError(EmberError):
    """A function could not be compiled."""


class TypingError(CompilerError):
    """Type inference failed: a value's type is unknown or an operation is ill-typed."""


class UnsupportedError(CompilerError):
    """The function uses a Python feature that ember does not compile."""


class EmberWarning(UserWarning):
    """What ember says without failing, e.g. that target='cuda' code runs on
    the cpu device because there is no GPU (like numba's
    NumbaPerformanceWarning)."""


class EmberPerformanceWarning(EmberWarning):
    """Code that works but runs slower than it could (numba's
    NumbaPerformanceWarning)."""


class EmberDeprecationWarning(EmberWarning, DeprecationWarning):
    """An ember feature that will go away."""


class EmberInvalidConfigWarning(EmberWarning):
    """An EMBER_/NUMBA_ environment setting ember cannot use."""


NumbaError = EmberError
NumbaWarning = EmberWarning
NumbaPerformanceWarning = EmberPerformanceWarning
NumbaDeprecationWarning = EmberDeprecationWarning
NumbaInvalidConfigWarning = EmberInvalidConfigWarning
