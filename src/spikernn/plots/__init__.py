"""Figures a run produces (matplotlib, Agg backend, PNG files)."""

from spikernn.plots.figures import plot_accuracy_by_factor, plot_raster, plot_readouts, plot_training

__all__ = ["plot_accuracy_by_factor", "plot_raster", "plot_readouts", "plot_training"]
