#!/usr/bin/env python3
"""Draw the SRO Field Guide app icons.

Writes real PNG files (plus an SVG twin of the mark) into
``pwa/static/icons/`` relative to the repository root:

    icon-192.png            192x192  purpose "any"
    icon-512.png            512x512  purpose "any"
    icon-maskable-512.png   512x512  purpose "maskable" (mark inside 80% safe zone)
    apple-touch-icon.png    180x180  opaque RGB, no transparency
    favicon-32.png          32x32
    icon.svg                vector version of the same mark

The mark is a white shield outline with a white checkmark inside, on a
full-bleed deep navy (#12305a) background. Everything is drawn from
polygons/polylines (no fonts), supersampled and downscaled for clean
anti-aliased edges.

This is a build-time tool only: it needs Pillow, the app itself does not.

    python3 -m venv .icon-venv
    .icon-venv/bin/pip install pillow
    .icon-venv/bin/python scripts/make_icons.py
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

try:
    from PIL import Image, ImageDraw
except ImportError:  # pragma: no cover - build tool guard
    sys.exit("make_icons.py needs Pillow: pip install pillow (build-time only)")

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = REPO_ROOT / "pwa" / "static" / "icons"

NAVY = (0x12, 0x30, 0x5A)
WHITE = (0xFF, 0xFF, 0xFF)
NAVY_HEX = "#12305a"
WHITE_HEX = "#ffffff"

SUPERSAMPLE = 8  # draw at 8x then downscale with LANCZOS

# ---------------------------------------------------------------------------
# Geometry, in "design units": a 100x100 box, mark centred on (50, 50).
# ---------------------------------------------------------------------------

# Shield outline: a slight peak at the top centre, straight shoulders and
# sides, then two cubic curves meeting at the bottom point.
TOP_MID = (50.0, 13.0)
TOP_RIGHT = (77.0, 21.0)
SIDE_RIGHT = (77.0, 47.0)
CURVE_RIGHT_C1 = (77.0, 70.0)
CURVE_RIGHT_C2 = (63.0, 81.0)
BOTTOM = (50.0, 88.0)

# Checkmark polyline (short stroke, elbow, long stroke).
CHECK = [(37.5, 50.5), (46.5, 60.0), (63.5, 40.5)]


def _mirror(p: tuple[float, float]) -> tuple[float, float]:
    return (100.0 - p[0], p[1])


def _cubic(p0, p1, p2, p3, steps: int):
    pts = []
    for i in range(1, steps + 1):
        t = i / steps
        u = 1.0 - t
        x = u**3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t**3 * p3[0]
        y = u**3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t**3 * p3[1]
        pts.append((x, y))
    return pts


def shield_points(steps: int = 48) -> list[tuple[float, float]]:
    """Closed shield outline, clockwise, starting at the top centre peak."""
    pts = [TOP_MID, TOP_RIGHT, SIDE_RIGHT]
    pts += _cubic(SIDE_RIGHT, CURVE_RIGHT_C1, CURVE_RIGHT_C2, BOTTOM, steps)
    left = _cubic(
        BOTTOM,
        _mirror(CURVE_RIGHT_C2),
        _mirror(CURVE_RIGHT_C1),
        _mirror(SIDE_RIGHT),
        steps,
    )
    pts += left
    pts.append(_mirror(TOP_RIGHT))
    return pts


def _bbox_centre_offset() -> tuple[float, float]:
    """Offset that centres the shield's bounding box on (50, 50)."""
    pts = shield_points()
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    return (50.0 - (min(xs) + max(xs)) / 2.0, 50.0 - (min(ys) + max(ys)) / 2.0)


OFFSET = _bbox_centre_offset()


def _shift(p):
    return (p[0] + OFFSET[0], p[1] + OFFSET[1])


def shield_height() -> float:
    ys = [p[1] for p in shield_points()]
    return max(ys) - min(ys)


def mark_radius(shield_stroke: float, check_stroke: float) -> float:
    """Max distance (design units) from (50,50) to any inked pixel of the mark."""
    r = 0.0
    for p in shield_points():
        q = _shift(p)
        r = max(r, math.hypot(q[0] - 50.0, q[1] - 50.0) + shield_stroke / 2.0)
    for p in CHECK:
        q = _shift(p)
        r = max(r, math.hypot(q[0] - 50.0, q[1] - 50.0) + check_stroke / 2.0)
    return r


# ---------------------------------------------------------------------------
# Raster rendering
# ---------------------------------------------------------------------------


def _stroke_path(draw, pts, width: float, closed: bool) -> None:
    """Stroke a polyline with round joins and round caps.

    Each segment is drawn as its own filled quad and every vertex gets a
    filled disc of the stroke's diameter. The overlapping shapes leave no
    seams (PIL's ``line(joint="curve")`` can leave hairline gaps).
    """
    seq = list(pts)
    if closed:
        seq = seq + [seq[0]]
    r = width / 2.0
    for (x0, y0), (x1, y1) in zip(seq, seq[1:]):
        dx, dy = x1 - x0, y1 - y0
        length = math.hypot(dx, dy)
        if length == 0:
            continue
        nx, ny = -dy / length * r, dx / length * r
        draw.polygon(
            [(x0 + nx, y0 + ny), (x1 + nx, y1 + ny), (x1 - nx, y1 - ny), (x0 - nx, y0 - ny)],
            fill=WHITE,
        )
    for x, y in seq:
        draw.ellipse([x - r, y - r, x + r, y + r], fill=WHITE)


def render(
    size: int,
    mark_scale: float,
    shield_stroke: float,
    check_stroke: float,
) -> Image.Image:
    """Render one opaque RGB icon.

    mark_scale: canvas pixels per design unit, as a fraction of size/100
                (1.0 = the 100-unit design box fills the canvas).
    shield_stroke / check_stroke: stroke widths in design units.
    """
    big = size * SUPERSAMPLE
    img = Image.new("RGB", (big, big), NAVY)
    draw = ImageDraw.Draw(img)
    unit = big / 100.0 * mark_scale
    cx = cy = big / 2.0

    def tx(p):
        q = _shift(p)
        return (cx + (q[0] - 50.0) * unit, cy + (q[1] - 50.0) * unit)

    _stroke_path(draw, [tx(p) for p in shield_points()], shield_stroke * unit, closed=True)
    _stroke_path(draw, [tx(p) for p in CHECK], check_stroke * unit, closed=False)
    return img.resize((size, size), Image.LANCZOS)


# Layouts -------------------------------------------------------------------

# Regular ("any") icons: shield about 78% of the canvas height.
ANY_SHIELD_STROKE = 6.5
ANY_CHECK_STROKE = 8.0


def any_scale() -> float:
    return 78.0 / shield_height()


# Favicon: fill more of the tiny canvas and use heavier strokes.
FAV_SHIELD_STROKE = 9.0
FAV_CHECK_STROKE = 11.0


def fav_scale() -> float:
    return 88.0 / shield_height()


def maskable_scale() -> float:
    """Scale so every inked pixel sits inside the 80% safe-zone circle.

    The maskable safe zone is a circle of radius 40% of the icon centred on
    it; keep a little margin (37%) so no mask shape clips the stroke.
    """
    r = mark_radius(ANY_SHIELD_STROKE, ANY_CHECK_STROKE)
    return 37.0 / r


# ---------------------------------------------------------------------------
# SVG
# ---------------------------------------------------------------------------


def _fmt(v: float) -> str:
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return s if s != "-0" else "0"


def _pt(p, scale: float) -> str:
    q = _shift(p)
    return f"{_fmt(50 + (q[0] - 50) * scale)} {_fmt(50 + (q[1] - 50) * scale)}"


def build_svg() -> str:
    s = any_scale()
    d = (
        f"M{_pt(TOP_MID, s)} L{_pt(TOP_RIGHT, s)} L{_pt(SIDE_RIGHT, s)} "
        f"C{_pt(CURVE_RIGHT_C1, s)} {_pt(CURVE_RIGHT_C2, s)} {_pt(BOTTOM, s)} "
        f"C{_pt(_mirror(CURVE_RIGHT_C2), s)} {_pt(_mirror(CURVE_RIGHT_C1), s)} "
        f"{_pt(_mirror(SIDE_RIGHT), s)} L{_pt(_mirror(TOP_RIGHT), s)} Z"
    )
    check = " ".join(_pt(p, s).replace(" ", ",") for p in CHECK)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100" '
        'width="100" height="100" role="img" aria-label="SRO Field Guide">\n'
        f'  <rect width="100" height="100" rx="18" fill="{NAVY_HEX}"/>\n'
        f'  <path d="{d}" fill="none" stroke="{WHITE_HEX}" '
        f'stroke-width="{_fmt(ANY_SHIELD_STROKE * s)}" stroke-linejoin="round"/>\n'
        f'  <polyline points="{check}" fill="none" stroke="{WHITE_HEX}" '
        f'stroke-width="{_fmt(ANY_CHECK_STROKE * s)}" stroke-linecap="round" '
        'stroke-linejoin="round"/>\n'
        "</svg>\n"
    )


# ---------------------------------------------------------------------------


def main() -> int:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    jobs = [
        ("icon-192.png", 192, any_scale(), ANY_SHIELD_STROKE, ANY_CHECK_STROKE),
        ("icon-512.png", 512, any_scale(), ANY_SHIELD_STROKE, ANY_CHECK_STROKE),
        ("icon-maskable-512.png", 512, maskable_scale(), ANY_SHIELD_STROKE, ANY_CHECK_STROKE),
        ("apple-touch-icon.png", 180, any_scale(), ANY_SHIELD_STROKE, ANY_CHECK_STROKE),
        ("favicon-32.png", 32, fav_scale(), FAV_SHIELD_STROKE, FAV_CHECK_STROKE),
    ]
    for name, size, scale, ss, cs in jobs:
        img = render(size, scale, ss, cs)
        assert img.mode == "RGB" and img.size == (size, size)
        path = OUT_DIR / name
        img.save(path, format="PNG", optimize=True)
        print(f"wrote {path.relative_to(REPO_ROOT)} ({size}x{size}, {path.stat().st_size} bytes)")

    svg_path = OUT_DIR / "icon.svg"
    svg_path.write_text(build_svg(), encoding="utf-8")
    print(f"wrote {svg_path.relative_to(REPO_ROOT)} ({svg_path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
