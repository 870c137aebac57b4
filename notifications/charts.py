"""Numbers for the server-side SVG charts (the templates draw them; no JavaScript, no CDN)."""

from __future__ import annotations

from dataclasses import dataclass

BAR_HEIGHT = 22
WIDTH = 300


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    count: int
    y: int
    width: int


def segment_bars(rows: list[dict]) -> dict:
    """rows: [{segment, avg, n}] -> bars scaled to a 10-point risk axis."""
    bars = [
        Bar(
            r["segment"] or "unclassified",
            round(r["avg"] or 0, 1),
            r["n"],
            i * (BAR_HEIGHT + 6),
            round((r["avg"] or 0) / 10 * WIDTH),
        )
        for i, r in enumerate(rows)
    ]
    return {"bars": bars, "height": max(1, len(bars)) * (BAR_HEIGHT + 6), "width": WIDTH}


@dataclass(frozen=True)
class Column:
    score: int
    customers: int
    churned: int
    x: int
    height: int
    churned_height: int
    y: int
    churned_y: int


def histogram(rows: list[list[int]], *, height: int = 120, col: int = 28) -> dict:
    """rows: [[score, customers, churned]] -> columns with the churned share drawn on top."""
    peak = max((r[1] for r in rows), default=0) or 1
    cols = []
    for s, n, c in rows:
        h, ch = round(n / peak * height), round(c / peak * height)
        cols.append(Column(s, n, c, (s - 1) * (col + 4), h, ch, height - h, height - ch))
    return {"columns": cols, "height": height, "width": 10 * (col + 4), "col": col}
