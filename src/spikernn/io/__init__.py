"""Model files: our torch format and the reference code's .mat layout (loaded on first use, so a
command's config is checked before torch and SciPy are imported)."""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submod_attrs={
        "mat_format": ["export_mat", "import_mat"],
        "model_info": ["ModelInfo"],
        "torch_format": ["load_rate_model", "read_info", "save_rate_model"],
    },
)
