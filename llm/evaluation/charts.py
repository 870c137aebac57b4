"""Score-over-runs charts as plain numbers for an inline SVG (drawn on the server: the console works
offline and without JavaScript). Pure: runs in, coordinates out."""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTH, HEIGHT, PAD = 560, 140, 24
COLOURS = ("#1565c0", "#2e7d32", "#c62828", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#ad1457", "#455a64")


@dataclass
class Line:
    metric: str
    colour: str
    points: str  # "x,y x,y ..." for <polyline points>
    dots: list[tuple[float, float, str]]  # (x, y, tooltip)
    threshold_y: float | None
    last: float


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    lines: list[Line] = field(default_factory=list)
    labels: list[tuple[float, str, str]] = field(default_factory=list)  # (x, "27 Nov 17:40", text-anchor)
    grid: list[tuple[float, str]] = field(default_factory=list)  # (y, "0.5")


def _y(score: float) -> float:
    return round(PAD + (1 - max(0.0, min(1.0, score))) * (HEIGHT - 2 * PAD), 1)


def score_chart(runs: list, thresholds: dict[str, float], order: list[str] | None = None) -> Chart:
    """`runs` oldest first, each with .scores, .created_at and .pk. One line per metric."""
    chart = Chart(grid=[(_y(v), f"{v:g}") for v in (0.0, 0.5, 1.0)])
    if not runs:
        return chart
    step = (WIDTH - 2 * PAD) / max(1, len(runs) - 1)

    def x(i: int) -> float:
        return round(PAD + i * step, 1) if len(runs) > 1 else WIDTH / 2

    metrics = list(dict.fromkeys([*(order or []), *(name for run in runs for name in run.scores)]))
    for n, metric in enumerate(metrics):
        pts = [(x(i), _y(run.scores[metric]), run) for i, run in enumerate(runs) if metric in run.scores]
        if not pts:
            continue
        chart.lines.append(
            Line(
                metric=metric,
                colour=COLOURS[n % len(COLOURS)],
                points=" ".join(f"{px},{py}" for px, py, _ in pts),
                dots=[(px, py, f"{metric} {run.scores[metric]:.3f} (run {run.pk})") for px, py, run in pts],
                threshold_y=_y(thresholds[metric]) if metric in thresholds else None,
                last=runs[-1].scores.get(metric, pts[-1][2].scores[metric]),
            )
        )
    marks = {0, len(runs) - 1, (len(runs) - 1) // 2}
    last = len(runs) - 1
    anchor = {0: "start", last: "end"} if last else {0: "middle"}
    chart.labels = [(x(i), f"{runs[i].created_at:%d %b %H:%M}", anchor.get(i, "middle")) for i in sorted(marks)]
    return chart
