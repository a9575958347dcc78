"""Model files: our torch format and the reference code's .mat layout."""

from spikernn.io.mat_format import export_mat, import_mat
from spikernn.io.torch_format import load_rate_model, save_rate_model

__all__ = ["export_mat", "import_mat", "load_rate_model", "save_rate_model"]
