"""`bptrace explore`: a Textual app that walks a traced update one quantity at a time.

It reads the trace only (bptrace.walk): the diagram, the step's `formula = numbers = result` and what it
is used for next are the numbers `bptrace run` shows. The app prints nothing itself; the CLI runs it."""

from __future__ import annotations

from dataclasses import replace

from rich.cells import cell_len
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static

from .. import walk
from ..errors import BptraceError
from ..exports.walk_html import PHASES, step_name
from ..fmt import num
from ..i18n import N_, _
from ..trace import Iteration
from .diagram import DEP, diagram

KEYS = [("→  n  space", N_("next quantity")), ("←  p", N_("previous quantity")), ("Home  End", N_("first, last")),
        ("/", N_("jump to a quantity: z1, o1, delta_o1, dE_total/dw5, ∂E_total/∂w5, w5⁺ (either naming)")),
        ("f", N_("focus: walk only the chain that leads to one parameter's update (empty: every step)")),
        ("u", N_("apply the update: walk the next one (the next sample, or the next epoch)")),
        ("s", N_("switch naming: seed (w5, h1) or layered (W^(2)_11, a^(1)_1)")),
        ("click", N_("a neuron or an edge jumps to its quantity")), ("?", N_("this help")), ("q", N_("quit"))]


class Help(ModalScreen):
    BINDINGS = [Binding("escape,q,question_mark,enter", "dismiss", "Close")]
    DEFAULT_CSS = "Help { align: center middle; } Help > Static { width: auto; max-width: 90%; border: round $accent;" \
                  " padding: 0 1; background: $surface; }"

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for k, what in KEYS:
            table.add_row(k, _(what))
        yield Static(Group(Text(_("Keys"), style="bold"), table, Text("\n" + _("Esc or ? closes this help."), style="dim")))


class Explorer(App):
    """The walk: a header line, the network diagram, the current step, the keys."""

    TITLE = "bptrace explore"
    ENABLE_COMMAND_PALETTE = False
    AUTO_FOCUS = None  # the keys drive the walk; the input box takes focus only when asked
    CSS = """
    #top { height: 1; background: $primary; color: $text; padding: 0 1; }
    #diagram { height: auto; padding: 0 1; margin: 1 0 0 0; }
    #step { height: 1fr; padding: 0 1; border-top: solid $primary; }
    #ask { dock: bottom; display: none; }
    """
    BINDINGS = [
        Binding("n,space,right", "move(1)", N_("Next"), key_display="→/n"),
        Binding("p,left", "move(-1)", N_("Prev"), key_display="←/p"),
        Binding("home", "move(-1000000)", "First", show=False),
        Binding("end", "move(1000000)", "Last", show=False),
        Binding("slash", "ask('jump')", N_("Jump"), key_display="/"),
        Binding("f", "ask('focus')", N_("Focus")),
        Binding("u", "update", N_("Update")),
        Binding("s", "naming", N_("Naming")),
        Binding("question_mark", "help", N_("Help"), key_display="?"),
        Binding("q", "quit", N_("Quit")),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),  # as everywhere else in bptrace
    ]

    def __init__(self, spec, trace, precision: int = 8, naming: str | None = None, batch: str | int = "online"):
        super().__init__()
        self._translate_keys()
        self.spec, self.precision, self.naming, self.batch = spec, precision, naming, batch
        self.its = [trace if isinstance(trace, Iteration) else trace.iterations[0]]  # a Trace or its update
        self.i = 0  # which iteration
        self.names = walk.names_for(spec, self.its[0])
        self.scheme = next(iter(self.names))
        self.steps = walk.steps(self.its[0])
        self.index = 0  # the current step in self.steps
        self.param = ""  # the focused parameter, if any
        self.chain: list[int] | None = None  # the focused steps' indices
        self.asking = ""
        self.message = ""  # a message for the user (a name not found), shown under the step until the next key

    def _translate_keys(self) -> None:
        """The footer's key descriptions in the current language (BINDINGS holds their English msgids)."""
        keys = self._bindings.key_to_bindings
        for key, bindings in keys.items():
            keys[key] = [replace(b, description=_(b.description)) if b.description else b for b in bindings]

    # ------------------------------------------------------------ what is shown

    def compose(self) -> ComposeResult:
        yield Static(id="top")
        yield Static(id="diagram")
        yield Static(id="step")
        yield Input(id="ask")
        yield Footer()

    def on_mount(self) -> None:
        self.show()

    def on_resize(self) -> None:
        self.show()

    @property
    def it(self):
        return self.its[self.i]

    @property
    def N(self):
        return self.names[self.scheme]

    @property
    def sequence(self) -> list[int]:
        return self.chain if self.chain is not None else list(range(len(self.steps)))

    @property
    def current(self) -> walk.Step:
        return self.steps[self.index]

    def show(self) -> None:
        if not self.is_mounted:
            return
        s = self.current
        seq = self.sequence
        it = self.it
        where = (_("step {i}/{n} of {param}'s chain") if self.param else _("step {i}/{n}")).format(
            i=seq.index(self.index) + 1, n=len(seq), param=self.param)
        update = _("update {step} (epoch {epoch}, sample {sample})").format(step=it.step, epoch=it.epoch, sample=s.sample)
        self.query_one("#top", Static).update(Text(
            " · ".join([where, update, _("{scheme} names").format(scheme=self.scheme), self.spec.title or ""]),
            no_wrap=True, overflow="ellipsis"))
        space = (self.size.width - 2, max(self.size.height - 12, 3))
        after = s.phase in ("update", "check")
        self.query_one("#diagram", Static).update(
            diagram(it, self.N, s.key, set(s.depends_on), after, space, sample=s.sample))
        self.query_one("#step", Static).update(self.panel())

    def panel(self) -> Group:
        """The phase, `name = formula = numbers = result` (one side a line), and what it is used for next."""
        s = self.current
        multi = len(self.it.passes) > 1 and s.phase != "update"
        title = Text(_(PHASES[s.phase]) + (" (" + _("sample {n}").format(n=s.sample) + ")" if multi else ""), style="bold")
        eq = walk.equation(s, self.it, self.spec, self.N, self.precision)
        sides = eq.sides()
        lines = Text()
        pad = " " * cell_len(sides[0])
        for n, side in enumerate(sides[1:]):
            lines.append((sides[0] if n == 0 else pad) + " = ", style="bold" if n == 0 else None)
            lines.append(side + "\n", style="bold yellow" if n == len(sides) - 2 else None)
        parts = [title, lines]
        used = walk.used_for(self.steps, self.index)
        if used:
            names = ", ".join(dict.fromkeys(step_name(u, self.N) for u in used))
            parts.append(Text.assemble((_("used next for:") + " ", "dim"), (names, DEP)))
        elif s.phase == "check" and s.key == f"{self.it.checks[-1].loss.total.name}+":
            parts.append(self.verdict())
        if self.message:
            parts.append(Text(self.message, style="bold red"))
        return Group(*parts, *self.coming())

    def coming(self) -> list[Text]:
        """On a tall screen: the next steps of the walk with their values (an 80×24 screen has no room)."""
        seq = self.sequence
        room = self.size.height - 30
        pos = seq.index(self.index)
        upcoming = [self.steps[i] for i in seq[pos + 1:pos + 1 + room]]
        if room < 3 or not upcoming:
            return []
        lines = [Text("\n" + _("then"), style="dim")]
        for s in upcoming:
            lines.append(Text.assemble(f"  {step_name(s, self.N)} = ", (num(walk.value(s), self.precision), "dim")))
        return lines

    def verdict(self) -> Text:
        b, a = self.it.loss_before, self.it.loss_after
        p = self.precision
        how = _("unchanged") if a == b else (_("down by {amount}") if a < b else _("up by {amount}")).format(
            amount=num(abs(a - b), p))
        return Text.assemble(("E_total: ", "bold"), f"{num(b, p)} → {num(a, p)}, {how}; ",
                             ("u", "bold cyan"), " " + _("walks the next update"))

    # ------------------------------------------------------------ moving

    def go(self, index: int) -> None:
        self.index = index
        self.message = ""
        self.show()

    def say(self, message: str) -> None:
        self.message = message
        self.show()

    def action_move(self, delta: int) -> None:
        seq = self.sequence
        pos = min(max(seq.index(self.index) + delta, 0), len(seq) - 1)
        self.go(seq[pos])

    def on_click(self, event) -> None:
        """A click on a node or an edge: its quantity (a given one: the first step that reads it)."""
        target = event.style.meta.get("jump") if event.style else None
        if target:
            self.jump(target)

    def jump(self, text: str) -> None:
        try:
            index = walk.find(self.steps, text, self.it, self.names)
        except BptraceError as e:
            self.say(str(e))
            return
        if self.chain is not None and index not in self.chain:
            self.focus_on("")
        self.go(index)

    def focus_on(self, param: str) -> None:
        if not param:
            self.param, self.chain = "", None
            return
        chain = walk.focus(self.steps, param, self.names)
        self.param = step_name(chain[-1], self.N).removesuffix("⁺")
        indices = {id(s) for s in chain}
        self.chain = [i for i, s in enumerate(self.steps) if id(s) in indices]

    def action_ask(self, what: str) -> None:
        box = self.query_one("#ask", Input)
        self.asking = what
        box.placeholder = (_("jump to: z1, delta_o1, ∂E_total/∂w5, w5⁺ … (Enter; Esc cancels)") if what == "jump" else
                           _("focus on a parameter: {names} … (empty: every step)").format(
                               names=", ".join(walk.parameters(self.steps)[:4])))
        box.value = ""
        box.display = True
        self.set_focus(box)  # at once: keys typed right after `/` go into the box

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        self.close_ask()
        if self.asking == "jump":
            if text:
                self.jump(text)
            return
        try:
            self.focus_on(text)
        except BptraceError as e:
            self.say(str(e))
            return
        self.go(self.sequence[0])

    async def on_key(self, event) -> None:
        """Esc closes the question; keys typed faster than the box took focus (`f w 1 Enter` in one burst)
        reach the app instead of the box: they are put into it."""
        box = self.query_one("#ask", Input)
        if not box.display:
            return
        if event.key == "escape":
            self.close_ask()
        elif box.has_focus:
            return
        elif event.key == "enter":
            await box.action_submit()
        elif event.is_printable and event.character:
            box.insert_text_at_cursor(event.character)
        else:
            return
        event.stop()
        event.prevent_default()

    def close_ask(self) -> None:
        box = self.query_one("#ask", Input)
        box.display = False
        self.set_focus(None)

    def action_update(self) -> None:
        """Apply the update and walk the next one (the same focus, if any)."""
        if self.i + 1 == len(self.its):
            try:
                self.its.append(walk.next_iteration(self.spec, self.it, self.naming, self.batch))
            except BptraceError as e:
                self.say(str(e))
                return
        self.i += 1
        self.steps = walk.steps(self.it)
        try:
            self.focus_on(self.param)
        except BptraceError:
            self.focus_on("")
        self.go(self.sequence[0])

    def action_naming(self) -> None:
        schemes = list(self.names)
        self.scheme = schemes[(schemes.index(self.scheme) + 1) % len(schemes)]
        if self.param:
            self.focus_on(self.param if self.chain is None else self.steps[self.chain[-1]].key)
        self.show()

    def action_help(self) -> None:
        self.push_screen(Help())
