"""The package's public names: sorted, all importable, nothing private."""

from __future__ import annotations

import batchops


def test_all_is_sorted_and_public():
    names = batchops.__all__
    # isort style, as ruff keeps it: CONSTANTS, then Classes, then functions and dunders
    assert names == sorted(names, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n))
    for name in names:
        assert getattr(batchops, name) is not None
        assert not name.startswith("_") or name == "__version__"


def test_the_library_example_names_exist():
    for name in ("validate_file", "load_settings", "Journal", "Replay", "ApplyOptions"):
        assert name in batchops.__all__


def test_names_load_on_first_use_from_their_one_home():
    import subprocess
    import sys

    assert set(batchops._HOMES) | {"__version__"} == set(batchops.__all__)
    code = "import sys, batchops.sheets; print('pandas' in sys.modules, 'pandera' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]  # a light submodule does not load the whole library
