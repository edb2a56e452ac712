"""A short run of tests/stress/thread_stress.py: 6 threads compile, launch,
allocate and copy at once, each result checked against NumPy (the long run
is under ThreadSanitizer: tools/dev tsan)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "stress"))

import thread_stress  # noqa: E402


def test_six_threads_compile_launch_allocate_copy(tmp_path):
    errors = thread_stress.run(threads=6, iterations=3, tmpdir=str(tmp_path))
    assert not errors, errors
