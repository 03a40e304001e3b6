"""Every committed benchmark script imports (a renamed library function fails here, not weeks
later when the benchmark is re-run); running them is the benchmarks' job, never the tests'."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(BENCH.glob("*.py"))


def test_there_are_scripts():
    assert len(SCRIPTS) >= 10


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_script_imports(path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))  # scripts import their siblings
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)  # module level only: main() is behind __name__
    entry = getattr(module, "main", None) or getattr(module, "write", None)  # mmsa_layout: a helper
    assert callable(entry), f"{path.name} has neither main() nor write()"
