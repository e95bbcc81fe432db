"""The forms a trace is shown in (scalar, matrix, both) and their checks: a small module, so that a
scalar run need not import the matrix form (bptrace.matrix) to check its options."""

from __future__ import annotations

FORMS = ("scalar", "matrix", "both")
FORM_ERROR = "form: expected one of {forms}, got '{form}'"
FOCUS_ERROR = "focus {focus}: one parameter's chain is shown in the scalar form only, not with form = {form}"


def check_form(form: str) -> str:
    """The form (scalar, matrix or both), or a UsageError naming the parameter."""
    if form not in FORMS:
        from .errors import UsageError

        raise UsageError(FORM_ERROR.format(forms=", ".join(FORMS), form=form), param="form")
    return form


def check_focus(form: str, focus: str | None) -> None:
    """A focused trace (run --focus) keeps one parameter's chain: there is no whole matrix to show."""
    if focus is not None and form != "scalar":
        from .errors import UsageError

        raise UsageError(FOCUS_ERROR.format(focus=focus, form=form), param="focus")
