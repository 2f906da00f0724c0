"""SVG geometry (core/charts.py) and number formatting (core/formatting.py)."""

from decimal import Decimal

import pytest

from core import charts, formatting
from workstation.panels import heat_class


def test_treemap_areas_are_proportional_and_fill_the_box():
    items = [("A", 50.0), ("B", 25.0), ("C", 15.0), ("D", 10.0)]
    tiles = charts.treemap(items, 400, 200)
    total = 400 * 200
    for tile, (_, weight) in zip(sorted(tiles, key=lambda t: t.key), sorted(items), strict=True):
        assert tile.w * tile.h == pytest.approx(total * weight / 100, rel=1e-6)
        assert 0 <= tile.x and tile.x + tile.w <= 400 + 1e-6 and 0 <= tile.y and tile.y + tile.h <= 200 + 1e-6
    assert sum(t.w * t.h for t in tiles) == pytest.approx(total)


def test_treemap_ignores_empty_weights():
    assert charts.treemap([], 100, 100) == []
    assert [t.key for t in charts.treemap([("A", 1.0), ("B", 0.0)], 100, 100)] == ["A"]


def test_line_scales_into_the_viewbox_and_keeps_the_ends():
    series = [(float(t), 100.0 + (t % 7)) for t in range(1000)]
    line = charts.line(series, 50)
    points = [tuple(map(float, p.split(","))) for p in line.points.split()]
    assert len(points) == 50 == line.count
    assert points[0][0] == 0 and points[-1][0] == charts.LINE_WIDTH
    assert all(0 <= y <= charts.LINE_HEIGHT for _, y in points)
    assert (line.t0, line.t1, line.last) == (0.0, 999.0, series[-1][1])


def test_line_of_one_point_is_still_visible():
    line = charts.line([(5.0, 10.0)], 50)
    assert len(line.points.split()) == 2 and line.count == 1
    assert charts.line([], 50).points == ""


@pytest.mark.parametrize(
    ("filter_name", "value", "expected"),
    [
        ("money", Decimal(10000), "$10,000.00"),
        ("money", Decimal("-5.25"), "-$5.25"),
        ("signed_money", Decimal("12.345"), "+$12.35"),
        ("signed_money", Decimal("-0.001"), "$0.00"),
        ("signed_percent", 0.789, "+0.79%"),
        ("signed_percent", -1.2, "-1.20%"),
        ("price", 191.5, "191.50"),
        ("price", 0.4321, "0.4321"),
        ("quantity", Decimal("10.0000"), "10"),
        ("quantity", Decimal("1234.5600"), "1,234.56"),
        ("tone", 0, "flat"),
        # The sign and the colour follow the figure as shown: a tiny loss is 0.00%, neither red nor "-".
        ("tone", -0.0001, "flat"),
        ("tone", -0.004, "flat"),
        ("tone", "-0.005", "down"),
        ("tone", 0.004, "flat"),
        ("signed_percent", -0.004, "0.00%"),
        ("money", Decimal("-0.004"), "$0.00"),
        ("money", Decimal("-0.005"), "-$0.01"),
        ("money", None, "—"),
        ("price", "nan", "—"),
    ],
)
def test_formatting(filter_name, value, expected):
    assert getattr(formatting, filter_name)(value) == expected


@pytest.mark.parametrize(
    ("percent", "expected"),
    [(0, "hm-0"), (0.001, "hm-0"), (0.1, "hm-p1"), (-0.5, "hm-n2"), (2, "hm-p3"), (-12, "hm-n4")],
)
def test_heat_steps(percent, expected):
    assert heat_class(percent) == expected
