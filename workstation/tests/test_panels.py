"""The panels' context (workstation/panels.py)."""

import pytest

from workstation.panels import heat_class


@pytest.mark.parametrize(
    ("percent", "expected"),
    [(0, "hm-0"), (0.001, "hm-0"), (0.1, "hm-p1"), (-0.5, "hm-n2"), (2, "hm-p3"), (-12, "hm-n4")],
)
def test_heat_steps(percent, expected):
    assert heat_class(percent) == expected
