"""Run the original, unmodified ``rate/main.py`` of rkim35/spikeRNN (TensorFlow 1.x code) under
TensorFlow 2's ``tf.compat.v1`` and numpy 2, with three pieces of glue applied at run time.

Usage (inside the TensorFlow virtualenv, never spikernn's):

    python original_tf_shim.py /path/to/spikeRNN/rate/main.py --N 250 --task go-nogo ...

The glue, and nothing else:

1. ``import tensorflow`` gives ``tensorflow.compat.v1`` with ``disable_v2_behavior()``;
2. ``get_variable(initializer=<numpy array>, dtype=float32)``: the array is cast to the requested
   dtype first (TF 1.x did that; TF 2's v1 API refuses a float64 initializer for a float32
   variable, and under numpy 2's promotion rules ``float32 / np.sqrt(...)`` is float64);
3. ``Session.run`` returning a list of 1 × 1 arrays (the readout o(t), one per step) returns it as
   one flat array: numpy 2 refuses to assign the list into a row (``eval_os[ii, :] = eval_o``),
   which numpy 1.16 accepted. The values are unchanged.

This file does not import spikernn and holds no code of the original repository.
"""

from __future__ import annotations

import os
import runpy
import sys

import numpy as np
import tensorflow.compat.v1 as tf1

tf1.disable_v2_behavior()
sys.modules["tensorflow"] = tf1  # glue 1: `import tensorflow as tf` is the v1 API

_get_variable = tf1.get_variable


def get_variable(*args, initializer=None, dtype=None, **kwargs):
    """Glue 2: a numpy initializer is cast to the variable's requested dtype."""
    if isinstance(initializer, np.ndarray) and dtype is not None:
        initializer = initializer.astype(tf1.as_dtype(dtype).as_numpy_dtype)
    return _get_variable(*args, initializer=initializer, dtype=dtype, **kwargs)


tf1.get_variable = get_variable

_run = tf1.Session.run


def _flatten_scalars(value):
    if isinstance(value, list) and value and all(isinstance(v, np.ndarray) and v.shape == (1, 1) for v in value):
        return np.concatenate([v.reshape(1) for v in value])
    return value


def run(self, fetches, *args, **kwargs):
    """Glue 3: a fetched list of 1 × 1 readouts comes back as one flat array."""
    out = _run(self, fetches, *args, **kwargs)
    if isinstance(fetches, list) and isinstance(out, list):
        return [_flatten_scalars(v) for v in out]
    return out


tf1.Session.run = run

if __name__ == "__main__":
    main = os.path.abspath(sys.argv[1])
    sys.argv = [main, *sys.argv[2:]]
    sys.path.insert(0, os.path.dirname(main))  # its own `from model import ...`, `from utils import ...`
    runpy.run_path(main, run_name="__main__")
