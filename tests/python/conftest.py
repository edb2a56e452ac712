"""pytest configuration: the `gpu` marker and shared fixtures.

Tests marked `gpu` need a real CUDA GPU and skip, with the reason, where
there is none. `fake_cuda_lib` is the stand-in libcuda built with the C tests
(tests/fake_cuda): tests that use it run in a subprocess with
EMBER_CUDA_DRIVER pointing at it, so the CUDA code paths of the runtime and
the package run without a GPU. It is a test double, not a GPU.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a real CUDA GPU (skips without one)")


def _real_gpu_reason():
    from ember import _ember
    if os.environ.get("EMBER_CUDA_DRIVER"):
        return "EMBER_CUDA_DRIVER is set (a test double may be loaded)"
    if _ember.device_count("cuda") == 0:
        return "no CUDA GPU: " + _ember.kind_unavailable_reason("cuda")
    return None


def pytest_collection_modifyitems(config, items):
    reason = None
    for item in items:
        if "gpu" in item.keywords:
            if reason is None:
                reason = _real_gpu_reason() or ""
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def cpu_device():
    """Makes the cpu device current for the test (kernels run only there in
    this build), then restores the previous device."""
    from ember.cuda import _devices
    saved = _devices._state.key()
    _devices._state.set(("cpu", 0))
    yield
    _devices._state.set(saved)


@pytest.fixture(scope="session")
def fake_cuda_lib():
    path = os.environ.get("EMBER_FAKE_CUDA_LIB") or str(
        ROOT / "build" / "default" / "tests" / "libember_fake_cuda.so")
    if not Path(path).exists():
        pytest.skip(f"the fake CUDA driver is not built ({path}); run tools/dev build")
    return path


def run_python(code, env_extra=None, check=True):
    """Run `code` in a fresh interpreter with the package on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "python")
    env.update(env_extra or {})
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"subprocess failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc
