"""Runs every seed twin under examples/seeds/: each asserts what its tutorial page says."""
import pathlib
import runpy

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).resolve().parents[1] / "examples" / "seeds").glob("s*.py"))


def test_there_is_a_twin_for_each_page_with_code():
    assert [p.name[:4] for p in EXAMPLES] == ["s000", "s002", "s003", "s004"]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_seed_example(path, capsys):
    runpy.run_path(str(path), run_name="__main__")
    assert "all claims hold" in capsys.readouterr().out
