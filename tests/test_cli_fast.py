"""`robustmsa --help` stays fast: building the parser imports no heavy library.

Measured as the set of modules imported (in a fresh interpreter), not as time. The names the
parser lists without importing their registries must agree with those registries.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "sklearn", "matplotlib", "numpy", "scipy", "pandas", "gradio", "transformers",
         "mediapipe", "av", "yaml", "tqdm")


def _imported_after(code: str) -> set[str]:
    probe = (f"import sys\n{code}\nimport json\n"
             f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_building_the_parser_imports_nothing_heavy():
    mods = _imported_after("from robustmsa.cli import build_parser; build_parser()")
    assert not mods & set(HEAVY), f"--help imports {sorted(mods & set(HEAVY))}"
    assert not _imported_after("import robustmsa") & set(HEAVY)


@pytest.mark.parametrize("argv", [["--help"], ["zoo", "build", "--help"], ["serve", "--help"],
                                  ["predict", "--help"], ["data", "info", "--help"]])
def test_help_paths_import_nothing_heavy(argv):
    code = ("from robustmsa.cli import main\ntry:\n    main(" + repr(argv) + ")\n"
            "except SystemExit:\n    pass")
    assert not _imported_after(code) & set(HEAVY)


def test_listed_names_agree_with_their_registries():
    from robustmsa.commands.data import PRESET_NAMES
    from robustmsa.commands.extract import MODALITIES as EXTRACT_MODALITIES
    from robustmsa.commands.score import CONVENTION_NAMES
    from robustmsa.commands.zoo import RECIPE_NAMES
    from robustmsa.data.synthetic import PRESETS
    from robustmsa.metrics import CONVENTIONS
    from robustmsa.types import MODALITIES
    from robustmsa.zoo import RECIPES

    assert set(PRESET_NAMES) == set(PRESETS)
    assert set(CONVENTION_NAMES) == set(CONVENTIONS)
    assert tuple(RECIPE_NAMES) == tuple(RECIPES)
    assert EXTRACT_MODALITIES == MODALITIES


def test_lazy_package_attributes():
    import robustmsa

    assert robustmsa.MODALITIES == ("text", "audio", "vision")
    assert callable(robustmsa.predict_clip)
    with pytest.raises(AttributeError):
        robustmsa.no_such_name  # noqa: B018
