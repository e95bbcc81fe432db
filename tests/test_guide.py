"""`bptrace docs`: the documentation a pip-only user has is the repository's docs/, word for word."""

import pytest

from bptrace import guide
from bptrace.cli import app
from conftest import ROOT


@pytest.mark.parametrize("topic", sorted(guide.TOPICS))
def test_shipped_docs_are_the_repository_docs(topic):
    filename = guide.TOPICS[topic][0]
    assert (guide.FOLDER / filename).read_bytes() == (ROOT / "docs" / filename).read_bytes()


@pytest.mark.parametrize("topic", sorted(guide.TOPICS))
def test_docs_prints_the_page(runner, topic):
    result = runner.invoke(app, ["docs", topic])
    assert result.exit_code == 0
    assert result.stdout == (ROOT / "docs" / guide.TOPICS[topic][0]).read_text(encoding="utf-8")


def test_docs_lists_the_topics(runner):
    result = runner.invoke(app, ["docs"])
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.stdout.splitlines()[:len(guide.TOPICS)]] == list(guide.TOPICS)


def test_unknown_topic(runner):
    result = runner.invoke(app, ["docs", "nope"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: no documentation topic 'nope'; topics: spec, worked-example, trace-format, gradient-health, dropout, recurrent, convolution"


def test_the_starter_points_to_what_a_pip_user_has():
    from bptrace import samples

    starter = samples.starter()
    assert "bptrace docs spec" in starter and "docs/spec.md" not in starter
