"""bptrace reproduces every number of the worked example (shared/reference/worked-example.md)."""

import pytest

from bptrace import spec, tracer
from bptrace.cli import app
from conftest import BLOG, PUBLISHED, numbers_in


@pytest.fixture(scope="module")
def values():
    trace = tracer.run(spec.from_dict(BLOG))
    return {name: v for _, name, v in trace.iterations[0].quantities()}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_value_at_8_decimals(values, name):
    assert round(values[name], 8) == pytest.approx(PUBLISHED[name], abs=1e-12)


def test_delta_definition_matches_post(values):
    # the post: delta(o1) = dE_total/do1 · do1/dz3, and dE_o1/dh1 = delta(o1)·w5 with w5 = 0.45
    assert values["delta_o1"] == pytest.approx(PUBLISHED["dE_total/do1"] * PUBLISHED["do1/dz3"], abs=1e-8)
    assert values["dE_o1/dh1"] == pytest.approx(values["delta_o1"] * 0.45, rel=1e-15)


def test_every_published_number_printed_by_run(runner):
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 0, result.output
    printed = {round(v, 8) for v in numbers_in(result.output)}
    missing = {n: v for n, v in PUBLISHED.items() if round(v, 8) not in printed}
    assert not missing


def test_error_goes_down(values):
    assert values["E_total+"] < values["E_total"]
