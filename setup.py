"""pip install . — builds libember and the extension with CMake.

The extension links libember statically, so the installed package needs no
shared library beside it (only hwloc at run time). The Python running pip is
the one built for; it must have NumPy. No network access is needed: there is
no pyproject build isolation, and setuptools comes from the environment.

With EMBER_PREBUILT_LIB=/path/libember.so.0 (a libember built with
EMBER_EXPORT_INTERNAL, e.g. by tools/gpu-bundle) only the extension is built,
against that library, which is installed beside it (with the libraries
listed in EMBER_PREBUILT_EXTRA_LIBS, ';'-separated): no LLVM needed.
"""

import os
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        out_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_dir = Path(self.build_temp).resolve() / "cmake"
        build_dir.mkdir(parents=True, exist_ok=True)
        subprocess.check_call([
            "cmake", "-S", str(ROOT), "-B", str(build_dir),
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DPython3_EXECUTABLE={sys.executable}",
            "-DEMBER_BUILD_TESTS=OFF",
            f"-DEMBER_PY_OUT={out_dir}",
            f"-DEMBER_PREBUILT_LIB={os.environ.get('EMBER_PREBUILT_LIB', '')}",
            f"-DEMBER_PREBUILT_EXTRA_LIBS={os.environ.get('EMBER_PREBUILT_EXTRA_LIBS', '')}",
        ])
        subprocess.check_call(["cmake", "--build", str(build_dir), "--target", "_ember",
                               "-j", str(os.cpu_count() or 2)])


setup(
    name="ember",
    version="0.1.0",
    description="GPU kernels in Python (numba.cuda API) with a real CPU backend",
    package_dir={"": "python"},
    packages=["ember", "ember.cuda", "ember.cuda.cudadrv", "ember._compiler", "ember.np"],
    ext_modules=[CMakeExtension("ember._ember")],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.11",
    install_requires=["numpy>=1.24"],
    zip_safe=False,
)
