"""The list of built-in sample specs, as a table (`bptrace samples`)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from ..i18n import _


def samples_table() -> Table:
    """name · network (widths, each layer's activation, loss) · title, one row per built-in sample."""
    from .. import samples
    from ..spec import loads

    t = Table(box=None, show_header=True, padding=(0, 2))
    t.add_column(_("name"), style="cyan")
    t.add_column(_("network"))
    t.add_column(_("title"))
    for n in samples.names():
        s = loads(samples.text(n), f"{n}.toml")
        t.add_row(n, f"{_front(s)}{'-'.join(map(str, s.widths))} {_activations(s)}, {s.loss}", Text(s.title))
    return t


def _front(s) -> str:
    """The front layers before the widths (bptrace.front): '4×4 conv2d maxpool2d flatten → ', or ''."""
    if not s.front:
        return ""
    return "×".join(map(str, s.x_shape)) + " " + " ".join(f.kind for f in s.front) + " → "


def _activations(s) -> str:
    """'sigmoid' when every layer has it, else each layer's in order: 'relu/leaky_relu/tanh/linear'."""
    names = [layer.activation for layer in s.layers]
    return names[0] if len(set(names)) == 1 else "/".join(names)
