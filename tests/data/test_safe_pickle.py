"""The restricted unpickler: what it admits, what it refuses, and how it reports."""

from __future__ import annotations

import collections
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
from msa_pickle_writers import write_pickle, write_py2_pickle

from robustmsa.data.safe_pickle import resolve_allowed_global, safe_load_pickle
from robustmsa.errors import DataError

PLAIN = {
    "f32": np.arange(6, dtype=np.float32).reshape(2, 3),
    "fortran": np.asfortranarray(np.ones((3, 2))),
    "strided": np.arange(16.0).reshape(4, 4)[:, ::2],
    "objects": np.array(["a$_$1", "b$_$2"], dtype=object),
    "unicode": np.array(["x", "yy"]),
    "bytes_arr": np.array([b"a", b"bc"]),
    "scalar": np.float32(1.5),
    "int_scalar": np.int64(7),
    "list": [1, 2.5, "s", None, True, b"raw"],
    "tuple": (1, (2, 3)),
    "set": {1, 2},
    "frozenset": frozenset({3}),
    "complex": 1 + 2j,
    "ordered": collections.OrderedDict(a=1, b=2),
}


def _equal(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, dict):
        return type(a) is type(b) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return a == b and type(a) is type(b)


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_round_trip_numpy_and_containers(tmp_path: Path, protocol: int) -> None:
    p = write_pickle(PLAIN, tmp_path / "plain.pkl", protocol)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy.core DeprecationWarning either
        got = safe_load_pickle(p)
    assert _equal(PLAIN, got)


def test_python2_style_pickle_falls_back_to_latin1(tmp_path: Path) -> None:
    x = np.linspace(-1, 1, 24, dtype=np.float32).reshape(2, 3, 4)  # non-ASCII raw bytes
    obj = {"train": {"vision": x, "id": np.array(["a", "b"], dtype=object)}}
    p = write_py2_pickle(obj, tmp_path / "py2.pkl")
    assert b"cnumpy.core.multiarray\n" in p.read_bytes()
    got = safe_load_pickle(p)
    np.testing.assert_array_equal(got["train"]["vision"], x)
    assert list(got["train"]["id"]) == ["a", "b"]


@pytest.mark.parametrize("kind", ["os.system", "builtins.eval", "os.system-proto0",
                                  "nested-mmsa", "nested-mult"])
def test_code_execution_is_refused(evil_pickles, kind: str) -> None:
    paths, marker = evil_pickles
    with pytest.raises(DataError) as e:
        safe_load_pickle(paths[kind])
    msg = str(e.value)
    assert str(paths[kind]) in msg and "refused to unpickle global" in msg
    assert ("system" in msg) if "system" in kind or "mmsa" in kind else ("eval" in msg)
    assert not marker.exists()


def test_allow_list_is_narrow() -> None:
    assert resolve_allowed_global("numpy.core.multiarray", "_reconstruct") is not None
    assert resolve_allowed_global("numpy._core.multiarray", "scalar") is not None
    assert resolve_allowed_global("numpy.core.numeric", "_frombuffer") is not None
    assert resolve_allowed_global("__builtin__", "set") is set
    for mod, name in [("os", "system"), ("posix", "system"), ("builtins", "eval"),
                      ("builtins", "getattr"), ("builtins", "__import__"), ("numpy", "load"),
                      ("numpy.core.multiarray", "_fastCopyAndTranspose"), ("subprocess", "Popen"),
                      ("copyreg", "_reconstructor"), ("numpy.testing", "assert_")]:
        assert resolve_allowed_global(mod, name) is None, (mod, name)


def test_refuses_arbitrary_class(tmp_path: Path) -> None:
    p = write_pickle({"x": collections.Counter("ab")}, tmp_path / "counter.pkl")
    with pytest.raises(DataError, match=r"refused to unpickle global collections\.Counter"):
        safe_load_pickle(p)


def test_truncated_pickle(tmp_path: Path) -> None:
    data = pickle.dumps({"a": np.zeros((50, 50))}, protocol=4)
    p = tmp_path / "trunc.pkl"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="corrupt or truncated") as e:
        safe_load_pickle(p)
    assert str(p) in str(e.value)


@pytest.mark.parametrize(
    ("content", "expect"),
    [(b"\x89PNG\r\n\x1a\n" + b"\0" * 32, "PNG"), (b"hello, world\n", "not a pickle"),
     (b"", "empty"), (b"PK\x03\x04rest", "zip")],
)
def test_wrong_file_types(tmp_path: Path, content: bytes, expect: str) -> None:
    p = tmp_path / "data.pkl"
    p.write_bytes(content)
    with pytest.raises(DataError, match=expect) as e:
        safe_load_pickle(p)
    assert str(p) in str(e.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        safe_load_pickle(tmp_path / "nope.pkl")
    with pytest.raises(DataError, match="directory"):
        safe_load_pickle(tmp_path)


def test_save_dataset_files_get_normal_permissions(tmp_path) -> None:
    """Atomic writes must not leave mkstemp's owner-only 0o600 mode on the user's files."""
    from robustmsa.data import make_synthetic_msa, save_dataset
    from robustmsa.fileio import default_file_mode

    p = save_dataset(make_synthetic_msa(8, 4, 4, seq_len=6, random_state=0), tmp_path / "d")
    for f in (p, p.with_suffix(".json")):
        assert f.stat().st_mode & 0o777 == default_file_mode()
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".")] == []
