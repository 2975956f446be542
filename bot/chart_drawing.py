"""Drawing /thongke's charts as PNG: runs in a worker process (bot/charts.py), so this module imports
nothing of ours and matplotlib only when it draws. Every word arrives in the spec, already in Vietnamese;
DejaVu Sans, matplotlib's own font, draws every Vietnamese diacritic."""

from __future__ import annotations

import io
from dataclasses import dataclass

WIDTH_IN, DPI = 6.0, 150  # 900 px wide: sharp on a phone held upright, readable without zooming
FORWARDED, OTHER, BELOW, QUOTA = "#2e7d32", "#b0bec5", "#c62828", "#d84315"


@dataclass(frozen=True)
class Bar:
    label: str
    forwarded: int
    other: int = 0


@dataclass(frozen=True)
class ChartSpec:
    title: str
    subtitle: str  # the deadline, or how many are below quota
    bars: tuple[Bar, ...]  # top to bottom
    quota: int  # the yearly quota, drawn as a line
    quota_label: str
    forwarded_label: str
    other_label: str
    x_label: str
    below_label: str = ""  # province: a commune below quota is drawn red, under this name in the legend


def draw(spec: ChartSpec) -> bytes:
    from matplotlib.figure import Figure  # no pyplot: no global state, nothing shown

    rows = max(len(spec.bars), 1)
    figure = Figure(figsize=(WIDTH_IN, 1.8 + (0.42 if rows < 10 else 0.3) * rows), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    labels = [_short(b.label) for b in spec.bars]
    positions = list(range(len(spec.bars)))[::-1]
    colors = [BELOW if spec.below_label and b.forwarded < spec.quota else FORWARDED for b in spec.bars]
    axes.barh(positions, [b.forwarded for b in spec.bars], color=colors, label=spec.forwarded_label)
    if any(b.other for b in spec.bars):
        axes.barh(positions, [b.other for b in spec.bars], left=[b.forwarded for b in spec.bars], color=OTHER,
                  label=spec.other_label)
    for y, bar in zip(positions, spec.bars, strict=True):
        axes.text(bar.forwarded + bar.other + 0.05, y, f"{bar.forwarded}" + (f" + {bar.other}" if bar.other else ""),
                  va="center", fontsize=9)
    axes.axvline(spec.quota, color=QUOTA, linestyle="--", linewidth=1.6, label=spec.quota_label)
    axes.set_yticks(positions, labels, fontsize=9)
    highest = max([spec.quota, *(b.forwarded + b.other for b in spec.bars)])
    axes.set_xlim(0, highest * 1.25 + 0.5)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_xlabel(spec.x_label, fontsize=9)
    axes.spines[["top", "right"]].set_visible(False)
    # The legend's swatches drawn apart (the first bar's colour may be the red of "below quota"), under the plot
    # so that it never covers a bar's number.
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    legend = [(Patch(color=FORWARDED), spec.forwarded_label)]
    if any(b.other for b in spec.bars):
        legend.append((Patch(color=OTHER), spec.other_label))
    if spec.below_label:
        legend.append((Patch(color=BELOW), spec.below_label))
    legend.append((Line2D([], [], color=QUOTA, linestyle="--", linewidth=1.6), spec.quota_label))
    figure.legend([h for h, _ in legend], [n for _, n in legend], loc="outside lower center", ncols=2, fontsize=8,
                  frameon=False)
    figure.suptitle(spec.title, fontsize=12, fontweight="bold")
    axes.set_title(spec.subtitle, fontsize=9, color="#37474f")
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def _short(label: str, limit: int = 28) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def warm() -> bool:
    """Import matplotlib and load the font in the worker before anyone waits for a chart."""
    draw(ChartSpec("a", "b", (Bar("c", 1, 1),), 1, "d", "e", "f", "g"))
    return True
