"""The documentation a pip-installed user has: docs/ pages shipped as package data (`bptrace docs`)."""

from __future__ import annotations

from pathlib import Path

from .errors import UsageError, clip, did_you_mean

FOLDER = Path(__file__).parent / "data" / "docs"
TOPICS = {  # topic -> (file, what it is)
    "spec": ("spec.md", "the spec format: every key, its default, and what it means"),
    "worked-example": ("worked-example.md", "the published example bptrace reproduces, with every number"),
    "trace-format": ("trace-format.md", "the JSON and JSON Lines exports, field by field"),
    "gradient-health": ("gradient-health.md", "step --health: per-layer gradient norms and warnings"),
    "dropout": ("dropout.md", "dropout on a hidden layer, its sample worked by hand"),
    "recurrent": ("recurrent.md", "a recurrent layer (RNN), backpropagation through time, by hand"),
    "convolution": ("convolution.md", "conv1d/conv2d and pooling layers, the cnn sample worked by hand"),
}


def text(topic: str) -> str:
    if topic not in TOPICS:
        starts = [t for t in TOPICS if t.startswith(topic.lower())] if topic else []
        hint = f" (did you mean {starts[0]}?)" if len(starts) == 1 else did_you_mean(topic, TOPICS)
        raise UsageError(f"no documentation topic '{clip(topic)}'{hint}; topics: {', '.join(TOPICS)}")
    return (FOLDER / TOPICS[topic][0]).read_text(encoding="utf-8")
