"""bptrace: a step-by-step backpropagation tracer."""

__version__ = "0.1.0"
