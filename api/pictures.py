"""PNG pictures of partitions, drawn with Pillow from stored results (no plotting stack needed)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# A colour-blind-friendly qualitative palette (Okabe-Ito), cycled for many sets.
PALETTE = [(230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178), (213, 94, 0),
           (204, 121, 167), (120, 120, 120)]  # fmt: skip


def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default()


def _viridis(t: np.ndarray) -> np.ndarray:
    """A small viridis-like ramp: dark purple → teal → yellow."""
    stops = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], float)
    t = np.clip(t, 0, 1) * (len(stops) - 1)
    lo = np.floor(t).astype(int).clip(0, len(stops) - 2)
    frac = (t - lo)[..., None]
    return (stops[lo] * (1 - frac) + stops[lo + 1] * frac).astype(np.uint8)


def similarity_png(matrix: np.ndarray, labels: Sequence[str], title: str) -> bytes:
    """Heatmap of a square similarity matrix with row labels and a colour bar (0..max)."""
    n = matrix.shape[0]
    cell = max(6, min(40, 640 // max(n, 1)))
    label_w = 12 + 7 * max((len(s) for s in labels), default=0)
    top, bar_w = 30, 60
    width, height = label_w + n * cell + bar_w + 20, top + n * cell + 20
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    font = _font()
    draw.text((8, 8), title, fill="black", font=font)
    vmax = float(np.nanmax(matrix)) if matrix.size else 1.0
    colours = _viridis(matrix / (vmax or 1.0))
    heat = Image.fromarray(colours, "RGB").resize((n * cell, n * cell), Image.Resampling.NEAREST)
    img.paste(heat, (label_w, top))
    groups = [name.split(" ", 1)[0] for name in labels]  # "set2 model" → "set2"
    for i in range(1, n):
        if groups[i] != groups[i - 1]:  # white lines between equivalence sets
            draw.line([label_w, top + i * cell, label_w + n * cell, top + i * cell], fill="white", width=2)
            draw.line([label_w + i * cell, top, label_w + i * cell, top + n * cell], fill="white", width=2)
    for i, name in enumerate(labels):
        draw.text((4, top + i * cell + max(0, cell // 2 - 5)), name, fill="black", font=font)
    ramp = _viridis(np.linspace(1, 0, n * cell)[:, None].repeat(12, 1))
    img.paste(Image.fromarray(ramp, "RGB"), (label_w + n * cell + 10, top))
    draw.text((label_w + n * cell + 26, top), f"{vmax:.2f}", fill="black", font=font)
    draw.text((label_w + n * cell + 26, top + n * cell - 10), "0", fill="black", font=font)
    return _png(img)


def partition_png(
    model_names: Sequence[str],
    node_counts: Sequence[int],
    cuts: Sequence[Sequence[Sequence[int]]],
    anchors: Sequence[Sequence[int]],
) -> bytes:
    """Each model as a bar of its nodes, coloured by equivalence set; anchor blocks outlined."""
    longest = max(node_counts)
    label_w = 12 + 7 * max(len(s) for s in model_names)
    scale = max(4, min(24, 720 // max(longest, 1)))
    row_h, top = 26, 30
    k = len(cuts[0]) if cuts else 0
    width = label_w + longest * scale + 20
    height = top + row_h * len(model_names) + 40
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    font = _font()
    draw.text((8, 8), f"partition into {k} equivalence sets (outlined: set anchors)", fill="black", font=font)
    anchor_set = {(int(m), int(f), int(last)) for m, f, last in anchors}
    for m, name in enumerate(model_names):
        y = top + m * row_h
        draw.text((4, y + 6), name, fill="black", font=font)
        for s, (first, last) in enumerate(cuts[m]):
            x0, x1 = label_w + first * scale, label_w + (last + 1) * scale - 1
            draw.rectangle([x0, y, x1, y + row_h - 6], fill=PALETTE[s % len(PALETTE)])
            for node in range(first + 1, last + 1):
                draw.line([label_w + node * scale, y, label_w + node * scale, y + row_h - 6], fill="white")
            if (m, int(first), int(last)) in anchor_set:
                draw.rectangle([x0, y, x1, y + row_h - 6], outline="black", width=2)
    ly = top + row_h * len(model_names) + 10
    for s in range(k):
        x = label_w + s * 70
        draw.rectangle([x, ly, x + 12, ly + 12], fill=PALETTE[s % len(PALETTE)])
        draw.text((x + 16, ly), f"set {s}", fill="black", font=font)
    return _png(img)


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()
