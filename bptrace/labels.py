"""Words shared by the terminal and the exports (in the current language, see i18n)."""

from __future__ import annotations

from .i18n import _


def sample_label(spec, p) -> str:
    """' (sample 2)' after a pass's titles when the spec has several samples, else ''."""
    return " (" + _("sample {n}").format(n=p.sample) + ")" if len(spec.samples) > 1 else ""


def epoch_title(it) -> str:
    """An iteration in a rule or a picker: 'epoch 3, step 2'."""
    return _("epoch {epoch}, step {step}").format(epoch=it.epoch, step=it.step)


def epoch_heading(it) -> str:
    """An exported iteration's heading: 'Epoch 3, step 2'."""
    return _("Epoch {epoch}, step {step}").format(epoch=it.epoch, step=it.step)


def smoothing_label(eps: str) -> str:
    """' (label smoothing ε = 0.1)', with ε = 0.1 as the format writes it."""
    return _(" (label smoothing {eps})").format(eps=eps)


def dropout_note(f) -> list[str]:
    """How dropout was applied to a forward pass (train mode, inverted scaling; eval mode), as parts a line
    may break between; [] when no layer has dropout."""
    if not any(layer[0].dropped is not None for layer in f.layers):
        return []
    return [_("Dropout, train mode (as PyTorch's nn.Dropout):"), DROPOUT_FORMULA, _("inverted scaling;"),
            _("the check after the update uses the same mask;"),
            _("eval mode (model.eval()) drops nothing and does not scale.")]


DROPOUT_FORMULA = "h̃ = m·h / (1 − p),"  # the LaTeX export writes it as math (DROPOUT_FORMULA_TEX)
DROPOUT_FORMULA_TEX = r"$\tilde{h} = m\,h / (1 - p)$,"


def eval_mode_note(spec) -> str:
    """' (eval mode: no dropout)' after the outputs with the final weights when a layer has dropout, else ''."""
    return " " + _("(eval mode, as model.eval(): no dropout)") if any(layer.dropout for layer in spec.layers) else ""


def front_title(block, step: int | None = None, under: bool = False) -> str:
    """A front layer's step (bptrace.front): Forward: layer 1 (conv2d), or Backward step 3: layer 1 (conv2d);
    under a Backward pass heading (Markdown, LaTeX), Step 3: layer 1 (conv2d), as the dense steps there."""
    what = _("layer {n} ({kind})").format(n=block.index + 1, kind=block.kind)
    if step is None:
        return _("Forward: {what}").format(what=what)
    title = _("Step {step}: {what}") if under else _("Backward step {step}: {what}")
    return title.format(step=step, what=what)


def grid_label(label: str, style: str = "unicode") -> str:
    """A front layer's grid label (`dE_total/du`, `g_t = ‖∂E_total/∂s_t‖`) in a notation: unicode (∂, ‖) or
    ascii (d, ||), which LaTeX and --ascii show."""
    import re

    plain = label.replace("∂", "d").replace("‖", "||").replace("δ", "delta")
    if style != "unicode":
        return plain
    return re.sub(r"\|\|(.+?)\|\|", "‖\\1‖", re.sub(r"\bd(E\w*)/d", "∂\\1/∂", plain))


def front_bias(f) -> str:
    """A front layer's bias column: yes, none, or nothing for a layer without parameters (a pool, flatten)."""
    if not f.params:
        return ""
    return _("yes") if any(p.symbol == "c" for p in f.params) else _("none")
