"""The conftest helpers that check PTX with ptxas: `ptxas` and `check_ptx`."""

import pytest

from conftest import check_ptx, find_ptxas

EMPTY_KERNEL = """\
.version 7.0
.target sm_80
.address_size 64

.visible .entry ember_empty()
{
    ret;
}
"""


def test_find_ptxas_names_a_file_or_the_places_tried():
    path, reason = find_ptxas()
    assert (path is None) != (reason is None)
    if reason is not None:
        assert reason.startswith("ptxas not found (looked in bin/ of:") or "EMBER_PTXAS" in reason


@pytest.mark.parametrize("sm", [80, "90", "sm_90", (8, 0)])
def test_check_ptx_accepts_valid_ptx(ptxas, sm):
    check_ptx(EMPTY_KERNEL, sm)
    check_ptx(EMPTY_KERNEL.encode(), sm)


def test_check_ptx_fails_with_ptxas_message(ptxas):
    bad = EMPTY_KERNEL.replace("ret;", "frobnicate.u32 %r1;")
    with pytest.raises(pytest.fail.Exception) as info:
        check_ptx(bad, 90)
    msg = str(info.value)
    assert "ptxas -arch=sm_90 rejected the PTX" in msg
    assert "Not a name of any known instruction: 'frobnicate'" in msg  # ptxas's stderr


def test_check_ptx_rejects_a_newer_target(ptxas):
    """PTX for sm_90 does not assemble for sm_80: the arch is passed on."""
    with pytest.raises(pytest.fail.Exception, match="sm_80"):
        check_ptx(EMPTY_KERNEL.replace(".target sm_80", ".target sm_90"), 80)
