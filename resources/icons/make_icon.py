#!/usr/bin/env python3
"""Writes SDE Studio's application icon, resources/icons/hicolor/scalable/apps/sdestudio.svg: noise
on the left turns, along the reverse-time trajectory (the white curve), into a smooth sample on
the right.

The noise is drawn from a fixed seed, so the file is the same on every run. The PNG sizes are
rendered from it with librsvg (Debian package librsvg2-bin):
    python3 resources/icons/make_icon.py
    for s in 16 32 48 64 128 256 512; do
        rsvg-convert -w $s -h $s resources/icons/hicolor/scalable/apps/sdestudio.svg \
            -o resources/icons/hicolor/${s}x${s}/apps/sdestudio.png
    done
"""
import math
import random
from pathlib import Path

SIZE = 256
CELLS = 16
CELL = SIZE / CELLS


def level(col, row, rng):
    """Gray level in [0, 1] of a cell: pure noise at the left edge, a smooth blob at the right."""
    x = (col + 0.5) / CELLS
    y = (row + 0.5) / CELLS
    blob = 1.0 / (1.0 + math.exp(-((0.26 - math.hypot((x - 0.7) / 0.8, (y - 0.5) / 1.1)) * 18)))
    noise = rng.random()
    mix = min(1.0, max(0.0, (x - 0.15) / 0.6))  # noise share falls from left to right
    return (1 - mix) * noise + mix * blob


def main():
    rng = random.Random(2021)
    cells = []
    for row in range(CELLS):
        for col in range(CELLS):
            v = level(col, row, rng)
            r = int(30 + v * (255 - 30))
            g = int(42 + v * (214 - 42))
            b = int(68 + v * (120 - 68))
            cells.append(f'<rect x="{col * CELL:.0f}" y="{row * CELL:.0f}" width="{CELL:.0f}" '
                         f'height="{CELL:.0f}" fill="#{r:02x}{g:02x}{b:02x}"/>')
    svg = f'''<?xml version="1.0" encoding="UTF-8"?>
<!-- SDE Studio's icon, written by resources/icons/make_icon.py (edit that, not this file). -->
<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" viewBox="0 0 {SIZE} {SIZE}">
  <defs>
    <clipPath id="round"><rect width="{SIZE}" height="{SIZE}" rx="44" ry="44"/></clipPath>
  </defs>
  <g clip-path="url(#round)">
    {"".join(cells)}
  </g>
  <path d="M 22 204 C 80 214, 96 60, 150 92 S 214 150, 236 56" fill="none" stroke="#ffffff"
        stroke-width="14" stroke-linecap="round" opacity="0.92"/>
  <circle cx="236" cy="56" r="14" fill="#ffffff"/>
</svg>
'''
    (Path(__file__).parent / "hicolor" / "scalable" / "apps" / "sdestudio.svg").write_text(svg)


if __name__ == "__main__":
    main()
