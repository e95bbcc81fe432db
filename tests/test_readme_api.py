"""The README's Python API example runs as written, and its numbers are the published ones."""

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")

# From the worked example (docs/worked-example.md), to the 8 decimals it publishes.
PUBLISHED = {"dE_total/dw5": 0.02592286, "w5+": 0.43703857}


def _api_block() -> str:
    section = README[README.index("## Python API"):README.index("## Troubleshooting")]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_python_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names: dict = {}
    exec(_api_block(), names)
    assert round(names["trace"].value("dE_total/dw5"), 8) == PUBLISHED["dE_total/dw5"]
    assert names["trace"].value("∂E_total/∂w5") == names["trace"].value("dE_total/dw5")
    assert round(names["it"].value("w5⁺"), 8) == PUBLISHED["w5+"]
    assert names["report"].ok
    assert (tmp_path / "blog.md").read_text(encoding="utf-8").count("0.02592286") >= 1
    assert names["text"].startswith("#")


def test_the_readme_comments_carry_the_published_digits():
    commented = [float(n) for n in re.findall(r"#\s*(\d+\.\d+)", _api_block())]
    for value in PUBLISHED.values():
        assert any(round(n, 8) == value for n in commented), value
