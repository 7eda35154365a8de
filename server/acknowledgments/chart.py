"""The completion chart's geometry: acknowledged share over time as an SVG step line.

Drawn on the server as inline SVG (no charting script); colours come from CSS classes so the
strict CSP (no style attributes) and dark mode both hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# Close to a phone's width in CSS pixels, so labels read at about their set size there.
WIDTH, HEIGHT = 420, 250
LEFT, RIGHT, TOP, BOTTOM = 50, 14, 14, 46
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


@dataclass
class Chart:
    """Everything the template draws: paths, grid lines, labels and a text summary."""

    width: int
    height: int
    line: str
    area: str
    grid: list[tuple[float, str]]  # (y, label)
    x_labels: list[tuple[float, str, str]]  # (x, label, anchor)
    due_x: float | None
    baseline: float
    left: int
    right: float
    summary: str


def _day(moment: datetime) -> str:
    return moment.strftime("%b %-d, %Y")


def completion_chart(
    times: list[datetime],
    expected: int,
    start: datetime,
    end: datetime,
    due_at: datetime | None,
    *,
    counts: list[int] | None = None,
    late: int | None = None,
) -> Chart:
    """Cumulative acknowledgments (times in order) as a share of `expected`, from start to end.

    counts, late: when given, times are already merged steps (counts[i] acknowledged by
    times[i], as the dashboard reads them grouped from the database) and late is the number
    received after the due date; otherwise every time is one acknowledgment.
    """
    totals = counts if counts is not None else range(1, len(times) + 1)
    acknowledged = totals[-1] if len(totals) else 0
    end = max(end, start + timedelta(hours=1), *(times[-1:]))
    span = (end - start).total_seconds()

    def x(moment: datetime) -> float:
        return round(LEFT + PLOT_W * max(0.0, (moment - start).total_seconds()) / span, 1)

    def y(count: int) -> float:
        share = count / expected if expected else 0
        return round(TOP + PLOT_H * (1 - min(share, 1.0)), 1)

    # One step per horizontal position is all the eye can see: merge acks that land together.
    steps: list[tuple[float, int]] = []
    for count, moment in zip(totals, times, strict=True):
        px = x(moment)
        if steps and steps[-1][0] == px:
            steps[-1] = (px, count)
        else:
            steps.append((px, count))
    base = y(0)
    points = [f"M{LEFT},{base}"]
    level = base
    for px, count in steps:
        points.append(f"H{px}")
        level = y(count)
        points.append(f"V{level}")
    points.append(f"H{LEFT + PLOT_W}")
    line = " ".join(points)
    area = f"{line} V{base} Z"
    grid = [(round(TOP + PLOT_H * (1 - p / 100), 1), f"{p}%") for p in (0, 25, 50, 75, 100)]
    x_labels = [(LEFT, _day(start), "start"), (LEFT + PLOT_W, _day(end), "end")]
    due_x = x(due_at) if due_at is not None and start <= due_at <= end else None
    if late is None:
        late = sum(1 for t in times if due_at is not None and t > due_at)
    share = round(100 * acknowledged / expected) if expected else 100
    summary = (
        f"{acknowledged} of {expected} officers acknowledged ({share}%) between {_day(start)} and {_day(end)}"
        + (f"; due {_day(due_at)}, {late} acknowledged after it." if due_at is not None else ".")
    )
    return Chart(WIDTH, HEIGHT, line, area, grid, x_labels, due_x, base, LEFT, LEFT + PLOT_W, summary)
