"""SVG geometry for the server-drawn charts (workstation/charts.py)."""

import pytest

from workstation import charts


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


def test_a_chart_with_a_least_span_never_zooms_to_cents():
    # The P&L chart (issue 23): a $1 move on a $10,000 book drew as a crash; it spans at least its min_span.
    flat = charts.line([(0, 10_000.0), (60, 10_001.0)], 100, min_span=20.0)
    assert (flat.lo, flat.hi) == (9_990.5, 10_010.5)
    wide = charts.line([(0, 10_000.0), (60, 10_100.0)], 100, min_span=20.0)
    assert (wide.lo, wide.hi) == (10_000.0 - 8.0, 10_100.0 + 8.0)  # past the least span: as before
