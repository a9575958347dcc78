"""Hydra entry points: compose config → build validated library objects → call the library."""
