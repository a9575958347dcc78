"""Untrusted model files (issue 15, part 5): a damaged or hostile file is refused with one clear
``ModelFileError`` naming the file, and can never take the process down."""

from __future__ import annotations

import json
import os
import pickle
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from spikernn.io import ModelInfo, export_mat, import_mat, load_rate_model, save_rate_model
from spikernn.io.mat5 import read_mat5
from spikernn.io.mat_format import REQUIRED_KEYS
from spikernn.rate import RateRNN, RateRNNConfig
from spikernn.validation import ConfigError, ModelFileError

N = 12


def base_files(folder: Path) -> list[Path]:
    """Valid reference files: uncompressed and compressed, trainable and fixed τ, with and without
    Dale, SST units and an activation text."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    variants = [
        {"sst_n": 1, "activation": "softplus"},
        {"taus_ms": [35.0], "apply_dale": False},
        {},
    ]
    for i, kwargs in enumerate(variants):
        model = RateRNN(RateRNNConfig(n_units=N, **kwargs), seed=i)
        plain = export_mat(folder / f"base{i}.mat", model)
        data = {k: v for k, v in scipy.io.loadmat(plain).items() if not k.startswith("__")}
        scipy.io.savemat(folder / f"base{i}_z.mat", data, do_compression=True)
        paths += [plain, folder / f"base{i}_z.mat"]
    return paths


def mutate(data: bytes, rng: random.Random) -> bytes:
    """Bit flips, truncation, byte insertion or deletion, or a forged 32-bit word (sizes, dims)."""
    b = bytearray(data)
    kind = rng.randrange(5)
    if kind == 0:
        for _ in range(rng.randint(1, 4)):
            bit = rng.randrange(len(b) * 8)
            b[bit // 8] ^= 1 << (bit % 8)
    elif kind == 1:
        b = b[: rng.randrange(len(b))]
    elif kind == 2:
        at = rng.randrange(len(b))
        b[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    elif kind == 3:
        at = rng.randrange(len(b))
        del b[at : at + rng.randint(1, 8)]
    else:
        at = rng.randrange(len(b) - 4)
        b[at : at + 4] = rng.choice(
            [b"\xff\xff\xff\x7f", b"\x00\x00\x00\x80", b"\x00\x00\xf0\x7f", b"\x00\x00\x00\x00", b"\xff\xff\xff\xff"]
        )
    return bytes(b)


def fuzz(folder: Path, n_files: int, seed: int) -> dict:
    """Import ``n_files`` mutated reference files; count outcomes. A loaded model must be finite."""
    bases = [p.read_bytes() for p in base_files(folder)]
    rng = random.Random(seed)
    counts = {"files": n_files, "loaded": 0, "refused": 0, "foreign": 0, "foreign_examples": []}
    target = folder / "mutated.mat"
    for _ in range(n_files):
        target.write_bytes(mutate(rng.choice(bases), rng))
        try:
            model = import_mat(target)
        except ModelFileError as err:
            assert str(target) in str(err)
            counts["refused"] += 1
            continue
        except Exception as err:  # noqa: BLE001 - counted: anything but the project's error is a defect
            counts["foreign"] += 1
            counts["foreign_examples"] = [*counts["foreign_examples"], repr(err)[:200]][:5]
            continue
        finite = all(torch.isfinite(t).all() for t in (*model.state_dict().values(), model.taus_ms()))
        assert finite, "a model with NaN/Inf was loaded"
        counts["loaded"] += 1
    return counts


def test_fuzzed_mat_files_only_raise_the_projects_error(tmp_path: Path) -> None:
    counts = fuzz(tmp_path, 300, seed=1)
    assert counts["foreign"] == 0, counts
    assert counts["refused"] > 200  # the mutations really damage the files


@pytest.mark.slow
def test_ten_thousand_fuzzed_mat_files_never_crash_the_process(tmp_path: Path) -> None:
    """10 500 mutated files, in child processes so that a crash is counted instead of ending pytest."""
    totals = {"files": 0, "loaded": 0, "refused": 0, "foreign": 0, "crashes": 0}
    code = "import json, sys; from pathlib import Path; from tests.test_untrusted_files import fuzz; " + (
        "print(json.dumps(fuzz(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))))"
    )
    root = Path(__file__).resolve().parents[1]
    for chunk in range(21):
        proc = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / str(chunk)), "500", str(100 + chunk)],
            capture_output=True,
            text=True,
            cwd=root,
            timeout=600,
        )
        if proc.returncode != 0:
            totals["crashes"] += 1
            continue
        counts = json.loads(proc.stdout.strip().splitlines()[-1])
        for key in ("files", "loaded", "refused", "foreign"):
            totals[key] += counts[key]
    print("fuzzed .mat files:", totals)
    assert totals["files"] >= 10_000
    assert totals["crashes"] == 0 and totals["foreign"] == 0, totals


def test_reader_agrees_with_scipy_on_valid_files(tmp_path: Path) -> None:
    for path in base_files(tmp_path):
        ours = read_mat5(path.read_bytes(), {*REQUIRED_KEYS, "activation"}, max_values=10_000)
        theirs = scipy.io.loadmat(path)
        for key in REQUIRED_KEYS:
            assert np.array_equal(ours[key], np.asarray(theirs[key], dtype=float)), (path.name, key)
        if "activation" in theirs:
            assert ours["activation"] == str(theirs["activation"][0])


def edited(tmp_path: Path, **changes) -> Path:
    """A valid reference file with some keys replaced."""
    export_mat(tmp_path / "m.mat", RateRNN(RateRNNConfig(n_units=N), seed=0))
    data = {k: v for k, v in scipy.io.loadmat(tmp_path / "m.mat").items() if not k.startswith("__")}
    data.update(changes)
    scipy.io.savemat(tmp_path / "bad.mat", data)
    return tmp_path / "bad.mat"


def _with(key: str, index: tuple, value: float, shape: tuple) -> np.ndarray:
    array = np.ones(shape)
    array[index] = value
    return array


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"w": _with("w", (2, 3), np.nan, (N, N))}, "w holds NaN or infinite values"),
        ({"w_in": _with("w_in", (0, 0), np.inf, (N, 1))}, "w_in holds NaN or infinite values"),
        ({"w_out": _with("w_out", (0, 5), -np.inf, (1, N))}, "w_out holds NaN or infinite values"),
        ({"b_out": np.nan}, "b_out holds NaN"),
        ({"taus_gaus": _with("taus_gaus", (4, 0), np.nan, (N, 1))}, "taus_gaus holds NaN"),
        ({"taus": np.array([4.0, np.inf])}, "taus holds NaN or infinite"),
        ({"w0": np.full((N, N), 1e300)}, "beyond float32's range"),
        ({"N": 12.5}, "N must be a whole number, got 12.5"),
        ({"N": np.nan}, "N must be a whole number"),
        ({"N": -3}, "N must be in [1, 10000], got -3"),
        ({"N": np.array([12, 12])}, "N must be one number"),
        ({"N": 1e9}, "N = 1000000000 is too large: each N×N matrix (w, w0, m, som_m) would need 7105.4 PiB"),
        ({"N": 100_000}, "would need 74.5 GiB"),
        ({"N": "twelve"}, "N must be a numeric array"),
        ({"som_N": 99}, "som_N must be in [0,"),
        ({"inh": np.full((N, 1), 2.0)}, "inh and exc must be 0/1 flags"),
        ({"w": {"a": 1}}, "numeric array is required"),
        ({"w": np.ones((N, N)) + 1j}, "complex"),
        ({"activation": "tanh"}, "model.activation must be one of"),
        ({"taus": np.array([-1.0, 4.0])}, "model.tau_min_ms must be"),
    ],
)
def test_bad_values_are_refused_naming_file_and_key(tmp_path: Path, changes: dict, message: str) -> None:
    path = edited(tmp_path, **changes)
    with pytest.raises(ModelFileError) as err:
        import_mat(path)
    assert str(path) in str(err.value)
    assert message in str(err.value), str(err.value)


def test_huge_n_is_reported_with_its_size_before_allocating(tmp_path: Path, monkeypatch) -> None:
    path, allocated = edited(tmp_path, N=50_000), []
    monkeypatch.setattr(RateRNN, "__init__", lambda *a, **k: allocated.append(1))
    with pytest.raises(ModelFileError, match=r"N = 50000 is too large: .* would need 18.6 GiB"):
        import_mat(path)
    assert not allocated


def test_forged_dimensions_are_refused_before_reading(tmp_path: Path) -> None:
    path = edited(tmp_path)
    raw = bytearray(path.read_bytes())
    # the dims of the variables are int32 pairs (12, 12) right after the array flags
    pair = np.array([N, N], dtype="<i4").tobytes()
    at = raw.index(pair)
    raw[at : at + 8] = np.array([2**30, 2**30], dtype="<i4").tobytes()
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match=r"1073741824×1073741824 = .* values, which would need .*PiB"):
        import_mat(path)


def test_not_a_mat_file(tmp_path: Path) -> None:
    for name, content in [
        ("empty.mat", b""),
        ("text.mat", b"hello" * 100),
        ("h5.mat", b"\x89HDF\r\n\x1a\n" + bytes(600)),
    ]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ModelFileError, match=name):
            import_mat(tmp_path / name)
    with pytest.raises(ModelFileError, match="no such file"):
        import_mat(tmp_path / "missing.mat")
    with pytest.raises(ModelFileError, match="is a folder"):
        import_mat(tmp_path)


def test_unreadable_files_say_permission_denied(tmp_path: Path, monkeypatch) -> None:
    mat = edited(tmp_path)
    pt = save_rate_model(tmp_path / "m.pt", RateRNN(RateRNNConfig(n_units=N)))

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)
    monkeypatch.setattr(Path, "open", denied)
    for path, load in ((mat, import_mat), (pt, load_rate_model)):
        with pytest.raises(ModelFileError, match=f"{path}: permission denied"):
            load(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_on_disk(tmp_path: Path) -> None:
    path = edited(tmp_path)
    path.chmod(0)
    with pytest.raises(ModelFileError, match="permission denied"):
        import_mat(path)


class Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickle_with_code_is_refused_without_advising_weights_only_false(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"format": "spikernn.rate_rnn/1", "config": Payload()}, path)
    with pytest.raises(ModelFileError) as err:
        load_rate_model(path)
    text = str(err.value)
    assert "is not a spikernn model file" in text and str(path) in text
    assert "weights_only" not in text and err.value.__cause__ is None
    plain_pickle = tmp_path / "plain.pt"
    plain_pickle.write_bytes(pickle.dumps({"a": Payload()}))
    with pytest.raises(ModelFileError, match="is not a spikernn model file"):
        load_rate_model(plain_pickle)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p["state"].__setitem__("w", torch.full((N, N), float("nan"))), "w holds NaN"),
        (lambda p: p["state"].__setitem__("tau_raw", torch.full((N,), float("inf"))), "tau_raw holds NaN"),
        (lambda p: p["state"].__setitem__("w", torch.ones(3, 3)), r"w must be a tensor of shape \(12, 12\)"),
        (lambda p: p["state"].pop("w_out"), "lacks \\['w_out'\\]"),
        (lambda p: p["config"].__setitem__("n_units", 10**7), "N = 10000000 is too large"),
        (lambda p: p["config"].__setitem__("n_units", 12.5), "model.n_units must be an integer"),
        (lambda p: p["config"].__setitem__("bogus", 1), "its model config is invalid"),
        (lambda p: p.__setitem__("extra", [1]), "must be dicts"),
        (lambda p: p.__setitem__("format", "other/1"), "is not a spikernn rate model file"),
        # what the file says about the network (spikernn.io.ModelInfo), each value checked for its type
        (lambda p: p["extra"].__setitem__("task", 5), "stored task must be text"),
        (lambda p: p["extra"].__setitem__("trained", "yes"), "stored trained must be true or false"),
        (lambda p: p["extra"].__setitem__("scaling_factor", "25"), "stored scaling_factor must be a number"),
        (lambda p: p["extra"].__setitem__("scaling_factor", True), "stored scaling_factor must be a number"),
        (lambda p: p["extra"].__setitem__("scaling_factor", float("nan")), "finite number > 0"),
        (lambda p: p["extra"].__setitem__("scaling_factor", -3.0), "finite number > 0"),
        (lambda p: p["extra"].__setitem__("spiking", [0.05]), "spiking parameters must be a dict"),
        (lambda p: p["extra"].__setitem__("spiking", {"dt_ms": "fast"}), "stored spiking.dt_ms must be float"),
        (lambda p: p["extra"].__setitem__("spiking", {"bogus_ms": 1.0}), "unknown spiking parameter"),
        (lambda p: p["extra"].__setitem__("spiking", {"dt_ms": -1.0}), "spiking parameters are invalid"),
        (lambda p: p["extra"].__setitem__("finetuned", 1), "stored finetuned must be true or false"),
    ],
)
def test_damaged_torch_files_are_refused(tmp_path: Path, edit, message: str) -> None:
    model = RateRNN(RateRNNConfig(n_units=N), seed=0)
    payload = {"format": "spikernn.rate_rnn/1", "config": model.config.to_dict(), "state": model.state_dict()}
    payload["extra"] = {}
    edit(payload)
    torch.save(payload, tmp_path / "m.pt")
    with pytest.raises(ModelFileError, match=message):
        load_rate_model(tmp_path / "m.pt")


def test_fuzzed_torch_files_only_raise_the_projects_error(tmp_path: Path) -> None:
    path = save_rate_model(tmp_path / "m.pt", RateRNN(RateRNNConfig(n_units=N), seed=0), ModelInfo(task="go_nogo"))
    base, rng = path.read_bytes(), random.Random(2)
    target = tmp_path / "x.pt"
    for _ in range(60):
        target.write_bytes(mutate(base, rng))
        try:
            load_rate_model(target)
        except ModelFileError:
            pass


def test_model_file_error_is_a_config_error() -> None:
    assert issubclass(ModelFileError, ConfigError)
