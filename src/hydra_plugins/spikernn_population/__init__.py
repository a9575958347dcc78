"""``hydra/launcher=population``: a multirun's compatible training jobs trained as one population."""
