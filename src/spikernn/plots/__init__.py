"""Figures a run produces, in one style (``plots.style``): each written as PNG and SVG and
returned with its matplotlib Figure (``SavedFigure``, e.g. for ``mlflow.log_figure``)."""

from spikernn.plots.figures import plot_accuracy_by_factor, plot_raster, plot_readouts, plot_training
from spikernn.plots.stats import wilson_error_bar, wilson_interval
from spikernn.plots.style import STYLE, SavedFigure, styled

__all__ = [
    "STYLE",
    "SavedFigure",
    "plot_accuracy_by_factor",
    "plot_raster",
    "plot_readouts",
    "plot_training",
    "styled",
    "wilson_error_bar",
    "wilson_interval",
]
