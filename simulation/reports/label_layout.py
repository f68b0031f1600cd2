"""Where the labels of a scatter go: each beside its dot, clear of the other labels, the
dots and the leader lines (:func:`place_labels`), and a check that none overlap
(:func:`label_overlaps`, used by the tests). Geometry only: boxes in pixels, no data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

LABEL_PLOT_WIDTH = 700
LABEL_FONT = 13
_CHAR_W = 0.56 * LABEL_FONT      # a generous average width of a character of the house font
_LINE_H = 1.3 * LABEL_FONT
_DOT_R = 9.0                     # a marker's radius plus its white ring and a little air


def label_box(text: str) -> tuple[float, float]:
    """The (width, height) in pixels of a point label (``<br>`` separates lines)."""
    lines = text.split("<br>")
    return _CHAR_W * max(map(len, lines)) + 6, _LINE_H * len(lines) + 4


def _boxes_overlap(a, b, pad: float = 0.0) -> float:
    return (max(0.0, min(a[2], b[2]) - max(a[0], b[0]) + pad)
            * max(0.0, min(a[3], b[3]) - max(a[1], b[1]) + pad))


def _anchored_box(x: float, y: float, dx: float, dy: float, w: float, h: float):
    """The box of a label whose anchor is (x + dx, y + dy), anchored by the side facing its
    point (left edge for a label to the right, bottom edge for one above, ...)."""
    cx = x + dx + (w / 2 if dx > 0 else -w / 2 if dx < 0 else 0.0)
    cy = y + dy + (h / 2 if dy > 0 else -h / 2 if dy < 0 else 0.0)
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def _anchors(dx: float, dy: float) -> tuple[str, str]:
    return ("left" if dx > 0 else "right" if dx < 0 else "center",
            "top" if dy > 0 else "bottom" if dy < 0 else "middle")


def _box_distance(box, x: float, y: float) -> float:
    return math.hypot(max(box[0] - x, 0.0, x - box[2]), max(box[1] - y, 0.0, y - box[3]))


def _segments_cross(p1, p2, q1, q2) -> bool:
    def orient(a, b, c) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    return d1 * d2 < 0 and d3 * d4 < 0


def _segment_hits_box(p1, p2, box) -> bool:
    steps = max(8, int(math.hypot(p2[0] - p1[0], p2[1] - p1[1]) / 4))  # a sample every 4 px
    return any(box[0] <= p1[0] + (p2[0] - p1[0]) * t <= box[2] and box[1] <= p1[1] + (p2[1] - p1[1]) * t <= box[3]
               for t in np.linspace(0.1, 1.0, steps))


#: Plot widths, as multiples of the one the labels are placed for, at which they must stay
#: apart: a wider window moves the points apart while the labels keep their size.
LABEL_SCALES = (1.0, 1.35, 1.8)
#: How much further out than next to its point a label may go, in pixels (then a leader line).
LABEL_RINGS = (0, 14, 30, 50, 75, 105, 140, 180)


def place_labels(px: np.ndarray, py: np.ndarray, labels: Sequence[str], width: float,
                 height: float) -> list[tuple[float, float]]:
    """Pixel offsets (dx, dy; y down) from each point to its label's anchor, chosen so that no
    two labels overlap, no label covers a point or leaves the plot, no label sits nearer
    another point than its own, and no leader line crosses another or runs through a label:
    next to the point where there is room, else further out along one of eight directions
    (drawn with a leader line). ``px``/``py`` are the points in pixels of a plot area
    ``width`` x ``height`` (y down); a label is anchored by its side facing the point
    (:func:`_anchors`). The checks hold at every width of :data:`LABEL_SCALES`.

    Greedy, the labels in the most crowded places first; each takes the first free place,
    nearest first. Where nothing is free the least-covered place is taken
    (:func:`label_overlaps` then reports it)."""
    n = len(labels)
    sizes = [label_box(t) for t in labels]
    dirs = ((1, 0), (-1, 0), (0, -1), (0, 1), (1, -1), (1, 1), (-1, -1), (-1, 1))
    crowd = [sum(1 for j in range(n) if j != i and abs(px[j] - px[i]) < 160 and abs(py[j] - py[i]) < 60)
             for i in range(n)]
    order = sorted(range(n), key=lambda i: (-crowd[i], -sizes[i][0]))
    placed: list[tuple[int, float, float]] = []
    out: dict[int, tuple[float, float]] = {}

    def scene(k: float):
        x = px * k
        boxes = [_anchored_box(x[j], py[j], ex, ey, *sizes[j]) for j, ex, ey in placed]
        dots = [(x[j] - _DOT_R, py[j] - _DOT_R, x[j] + _DOT_R, py[j] + _DOT_R) for j in range(n)]
        return k, x, boxes, dots

    def cost_at(i: int, dx: float, dy: float, sc, leader: bool) -> float:
        k, x, boxes, dots = sc
        w, h = sizes[i]
        box = _anchored_box(x[i], py[i], dx, dy, w, h)
        c = sum(_boxes_overlap(box, b, 2.0) for b in boxes) * 100
        c += sum(_boxes_overlap(box, d) for d in dots) * 100
        c += 500 * sum(_segment_hits_box((x[j], py[j]), (x[j] + ex, py[j] + ey), box)  # another's leader line
                       for j, ex, ey in placed if ex * ex + ey * ey > (_DOT_R + 5) ** 2 * 2)
        if not leader:  # no leader line: the label must sit nearer its own point than any other
            own = _box_distance(box, x[i], py[i])
            c += 2000 * any(_box_distance(box, x[j], py[j]) < own + 6 for j in range(n) if j != i)
        else:  # a leader line must not cross another or run through a label or a point
            start, end = (x[i], py[i]), (x[i] + dx, py[i] + dy)
            c += 500 * sum(_segments_cross(start, end, (x[j], py[j]), (x[j] + ex, py[j] + ey))
                           for j, ex, ey in placed if ex * ex + ey * ey > (_DOT_R + 5) ** 2 * 2)
            c += 500 * sum(_segment_hits_box(start, end, b) for b in boxes)
            c += 500 * sum(_segment_hits_box(start, end, d) for j, d in enumerate(dots) if j != i)
        if k == 1.0:  # inside the plot (a wider one only adds room)
            c += (max(0.0, -box[0]) + max(0.0, box[2] - width) + max(0.0, -box[1])
                  + max(0.0, box[3] - height)) * 1000
        return c

    for i in order:
        best, best_cost = (_DOT_R + 4, 0.0), math.inf
        scenes = [scene(k) for k in LABEL_SCALES]
        for ring, extra in enumerate(LABEL_RINGS):
            for rank, (ux, uy) in enumerate(dirs):
                dx, dy = ux * (_DOT_R + 4 + extra), uy * (_DOT_R + 2 + extra * 0.6)
                cost = ring * 1.0 + rank * 0.01
                for sc in scenes:
                    if cost >= best_cost:
                        break
                    cost += cost_at(i, dx, dy, sc, bool(extra))
                if cost < best_cost:
                    best, best_cost = (dx, dy), cost
            if best_cost < ring + 1:  # a free place on this ring: nearer ones were taken
                break
        out[i] = best
        placed.append((i, *best))
    return [out[i] for i in range(n)]


def label_overlaps(fig: go.Figure, width: float = LABEL_PLOT_WIDTH) -> list[tuple[str, str]]:
    """The pairs of point labels of a :func:`risk_return` figure that overlap each other (or
    a label and a point, as (label, 'point'), or a label and the plot's edge, (label,
    'edge')), computed from the labels' pixel positions in a plot area ``width`` wide —
    empty when every label is readable."""
    meta = fig.layout.meta or {}
    height = meta.get("plot_height", 400)
    xr, yr = fig.layout.xaxis.range, fig.layout.yaxis.range
    boxes, dots = [], []
    for a in fig.layout.annotations:
        if getattr(a, "name", None) != "label":
            continue
        x = (a.x - xr[0]) / (xr[1] - xr[0]) * width
        y = (yr[1] - a.y) / (yr[1] - yr[0]) * height
        w, h = label_box(a.text)
        # the offsets are in pixels, so a wider plot only moves the points further apart
        boxes.append((a.text, _anchored_box(x, y, a.ax, a.ay, w, h)))
        dots.append((x - _DOT_R + 1, y - _DOT_R + 1, x + _DOT_R - 1, y + _DOT_R - 1))
    out = []
    for i, (ti, bi) in enumerate(boxes):
        if bi[0] < -1 or bi[2] > width + 1 or bi[1] < -1 or bi[3] > height + 1:
            out.append((ti, "edge"))
        out += [(ti, tj) for tj, bj in boxes[i + 1:] if _boxes_overlap(bi, bj) > 0]
        out += [(ti, "point") for d in dots if _boxes_overlap(bi, d) > 0]
    return out
