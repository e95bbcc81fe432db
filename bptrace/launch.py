"""The program's entry point (the `bptrace` script and `python -m bptrace`).

The garbage collector is paused while the modules load (Typer, Click, bptrace: tens of thousands of
objects that live as long as the process), then those objects are frozen out of later collections
(gc.freeze) and collection resumes: a start no longer walks them again and again (~10 ms)."""

import gc


def main() -> None:
    gc.disable()
    try:
        from .cli import main as run
    finally:
        gc.freeze()
        gc.enable()
    run()
