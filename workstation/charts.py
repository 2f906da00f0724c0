"""Geometry for the server-rendered SVG charts: line series and the treemap.

Charts are SVG drawn on the server so they are full on first paint, with no chart library (and no inline
style: every coordinate is an SVG attribute). static/js/workstation.js extends the same lines live; it reads
a series back from the `points` and the `data-*` scale written here, so the page carries one copy of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# viewBox of a line chart; the SVG is stretched to its box (preserveAspectRatio="none").
LINE_WIDTH = 1000.0
LINE_HEIGHT = 100.0


@dataclass(frozen=True)
class Line:
    points: str  # "x,y x,y …" in viewBox units
    t0: float
    t1: float
    lo: float
    hi: float
    first: float | None
    last: float | None
    count: int


def downsample(series: Sequence[tuple[float, float]], limit: int) -> list[tuple[float, float]]:
    """At most `limit` points, evenly spaced by index, always keeping the first and the latest."""
    n = len(series)
    if n <= limit:
        return list(series)
    step = (n - 1) / (limit - 1)
    return [series[round(i * step)] for i in range(limit)]


def value_range(lo: float, hi: float, min_span: float = 0.0) -> tuple[float, float]:
    """The axis's range for values from lo to hi: 8 % room each side, and never narrower than `min_span` (centred),
    so that a move of cents is not drawn as a cliff. static/js/workstation.js (drawLine) does the same."""
    pad = (hi - lo) * 0.08 or max(abs(hi) * 0.001, 0.01)
    lo, hi = lo - pad, hi + pad
    if hi - lo < min_span:
        middle = (hi + lo) / 2
        lo, hi = middle - min_span / 2, middle + min_span / 2
    return lo, hi


def line(series: Sequence[tuple[float, float]], limit: int, min_span: float = 0.0) -> Line:
    """Scale a (time, value) series into the viewBox; a flat or single-point series sits mid-height."""
    points = downsample(series, limit)
    if not points:
        return Line("", 0.0, 0.0, 0.0, 0.0, None, None, 0)
    t0, t1 = points[0][0], points[-1][0]
    values = [v for _, v in points]
    lo, hi = value_range(min(values), max(values), min_span)
    span_t = (t1 - t0) or 1.0
    coords = []
    for t, v in points:
        x = LINE_WIDTH if t1 == t0 else (t - t0) / span_t * LINE_WIDTH
        y = (hi - v) / (hi - lo) * LINE_HEIGHT
        coords.append(f"{x:.1f},{y:.2f}")
    if len(coords) == 1:  # one point: a short flat segment, so there is something to see
        coords.insert(0, f"0,{coords[0].split(',')[1]}")
    return Line(" ".join(coords), t0, t1, lo, hi, points[0][1], points[-1][1], len(points))


@dataclass(frozen=True)
class Tile:
    key: str
    x: float
    y: float
    w: float
    h: float


def treemap(items: Sequence[tuple[str, float]], width: float, height: float) -> list[Tile]:
    """Squarified treemap (Bruls, Huizing, van Wijk): areas proportional to the weights, tiles near square."""
    items = sorted(((k, w) for k, w in items if w > 0), key=lambda kv: kv[1], reverse=True)
    total = sum(w for _, w in items)
    if not items or total <= 0:
        return []
    scale = width * height / total
    pending = [(k, w * scale) for k, w in items]
    tiles: list[Tile] = []
    x, y, w, h = 0.0, 0.0, float(width), float(height)

    def worst(row: list[float], side: float) -> float:
        s = sum(row)
        return max(max(side * side * r / (s * s), (s * s) / (side * side * r)) for r in row)

    while pending:
        side = min(w, h)
        row = [pending[0]]
        i = 1
        while i < len(pending) and worst([a for _, a in row + [pending[i]]], side) <= worst([a for _, a in row], side):
            row.append(pending[i])
            i += 1
        pending = pending[i:]
        area = sum(a for _, a in row)
        if w >= h:  # lay the row out as a column on the left
            col = area / h if h else 0
            cy = y
            for key, a in row:
                th = a / col if col else 0
                tiles.append(Tile(key, x, cy, col, th))
                cy += th
            x += col
            w -= col
        else:  # as a row along the top
            rh = area / w if w else 0
            cx = x
            for key, a in row:
                tw = a / rh if rh else 0
                tiles.append(Tile(key, cx, y, tw, rh))
                cx += tw
            y += rh
            h -= rh
    return tiles
