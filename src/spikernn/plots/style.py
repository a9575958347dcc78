"""One look for every figure: the rcParams, the colours, and how a figure is written to disk.

Every figure is drawn inside ``STYLE`` (``styled``) and written twice by ``save``: a PNG at
``PNG_DPI`` for screens and the MLflow UI, and an SVG beside it for print and editing. Both files
are byte-for-byte reproducible (no date, fixed SVG ids).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

import matplotlib as mpl
from matplotlib.figure import Figure

P = ParamSpec("P")
R = TypeVar("R")

PNG_DPI = 200  # dots per inch of the PNG; the SVG is the print version
VECTOR_FORMAT = "svg"  # viewable in a browser and in the MLflow UI, editable in Inkscape/Illustrator

# Okabe & Ito's colour-blind-safe palette; E red / I blue as in the paper's rasters
EXC_COLOR = "#D55E00"
INH_COLOR = "#0072B2"
RATE_COLOR = "#000000"
LIF_COLOR = "#009E73"
BEFORE_COLOR = "#56B4E9"  # a LIF network before fine-tuning
TARGET_COLOR = "#888888"
CHOSEN_COLOR = "#CC79A7"
REFERENCE_COLOR = "#999999"  # chance and criterion lines
WINDOW_COLOR = "#F0E442"  # the scoring window

STYLE: dict[str, object] = {
    "font.family": "sans-serif",
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.8,
    "lines.linewidth": 1.2,
    "lines.markersize": 4,
    "axes.prop_cycle": mpl.cycler(color=[RATE_COLOR, LIF_COLOR, EXC_COLOR, INH_COLOR, CHOSEN_COLOR]),
    "figure.dpi": 100,
    "figure.constrained_layout.use": True,
    "savefig.dpi": PNG_DPI,
    "savefig.facecolor": "white",
    "svg.hashsalt": "spikernn",  # fixed element ids: the same figure gives the same file
    "path.simplify": True,
}


def styled(draw: Callable[P, R]) -> Callable[P, R]:
    """Run ``draw`` with ``STYLE`` as matplotlib's rcParams (restored afterwards)."""

    @functools.wraps(draw)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with mpl.rc_context(STYLE):
            return draw(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class SavedFigure:
    """A figure and the files it was written to: ``png`` and, beside it, ``vector`` (SVG)."""

    figure: Figure
    png: Path
    vector: Path

    @property
    def name(self) -> str:
        """The PNG's file name, as a run's summary lists its figures."""
        return self.png.name


def save(figure: Figure, png: Path) -> SavedFigure:
    """Write ``figure`` to ``png`` and to the SVG of the same stem; the Figure stays usable
    (e.g. for ``mlflow.log_figure``). Called inside ``styled`` so the save settings apply."""
    vector = png.with_suffix(f".{VECTOR_FORMAT}")
    figure.savefig(png, format="png", metadata={"Software": None})
    figure.savefig(vector, format=VECTOR_FORMAT, metadata={"Date": None, "Creator": None})
    return SavedFigure(figure, png, vector)
