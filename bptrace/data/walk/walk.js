// bptrace walk.html: one step shown at a time; ← / → (or the buttons, or the list) move through them.
// A step's data-key is its quantity's name, data-deps the quantities it shows highlighted, data-reads
// what a parameter's chain follows from it; diagram nodes and edges list their keys in data-keys.
(() => {
  "use strict";
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const body = document.body;
  const state = { index: 0, focus: "", chain: null };
  body.classList.add("js");
  if (!$(".iter")) return; // a training run with no traced iteration: the loss curve only

  const iter = () => $(".iter:not([hidden])");
  const steps = () => $$(".step", iter());
  const inFocus = (el) => !state.chain || state.chain.has(el);
  const split = (text) => (text || "").split("|").filter(Boolean);

  // The chain of parameter p: its update p+, and every backward step reached from it through data-reads.
  function chainOf(p) {
    const byKey = new Map(steps().filter((s) => s.dataset.phase === "backward").map((s) => [s.dataset.key, s]));
    const start = steps().find((s) => s.dataset.phase === "update" && s.dataset.key === `${p}+`);
    const chain = new Set(start ? [start] : []);
    const todo = start ? split(start.dataset.reads) : [];
    while (todo.length) {
      const s = byKey.get(todo.pop());
      if (s && !chain.has(s)) { chain.add(s); todo.push(...split(s.dataset.reads)); }
    }
    return chain;
  }
  const sequence = () => steps().flatMap((el, i) => (inFocus(el) ? [i] : []));
  const keysOf = (el) => (el.dataset.keys || el.dataset.key || "").split("|").filter(Boolean);

  function mark(root, cls, keys) {
    const wanted = new Set(keys);
    for (const el of $$("[data-keys], nav.steps button[data-key]", root)) {
      el.classList.toggle(cls, keysOf(el).some((k) => wanted.has(k)));
    }
  }

  function show(index) {
    const all = steps();
    const seq = sequence();
    if (!seq.includes(index)) index = seq[0] ?? 0;
    state.index = index;
    const el = all[index];
    all.forEach((s, i) => s.classList.toggle("current", i === index));
    const root = iter();
    root.classList.toggle("after-update", ["update", "check", "summary"].includes(el.dataset.phase));
    const key = el.dataset.key ? [el.dataset.key] : [];
    const deps = split(el.dataset.deps);
    mark(root, "is-current", key);
    mark(root, "dep", deps);
    for (const b of $$("nav.steps button", root)) {
      const i = Number(b.dataset.step);
      b.classList.toggle("out-of-focus", !inFocus(all[i]));
      if (i === index) b.setAttribute("aria-current", "step");
      else b.removeAttribute("aria-current");
    }
    const pos = seq.indexOf(index);
    const position = $("#position");  // its words from the page's language: data-format "Step {i} of {n}"
    position.textContent = position.dataset.format.replace("{i}", pos + 1).replace("{n}", seq.length);
    $("#prev").disabled = pos <= 0;
    $("#next").disabled = pos >= seq.length - 1;
    const nav = $("nav.steps", root);
    const item = $(`nav.steps button[data-step="${index}"]`, root);
    if (nav && item && nav.scrollHeight > nav.clientHeight) {
      const top = item.offsetTop - nav.offsetTop;
      if (top < nav.scrollTop || top > nav.scrollTop + nav.clientHeight - item.offsetHeight) {
        nav.scrollTop = top - nav.clientHeight / 2;
      }
    }
  }

  function move(delta) {
    const seq = sequence();
    const pos = seq.indexOf(state.index);
    const next = seq[Math.min(Math.max(pos + delta, 0), seq.length - 1)];
    if (next !== undefined) show(next);
  }

  function fillFocus() {
    const select = $("#focus");
    const params = steps().filter((s) => s.dataset.phase === "update").map((s) => s.dataset.key.replace(/\+$/, ""));
    select.replaceChildren(select.options[0], ...params.map((p) => new Option(p, p)));
    setFocus(params.includes(state.focus) ? state.focus : "");
  }

  function setFocus(p) {
    state.focus = p;
    state.chain = p ? chainOf(p) : null;
    $("#focus").value = p;
  }

  $("#prev").addEventListener("click", () => move(-1));
  $("#next").addEventListener("click", () => move(1));
  for (const nav of $$("nav.steps")) {
    nav.addEventListener("click", (e) => {
      const b = e.target.closest("button[data-step]");
      if (b) show(Number(b.dataset.step));
    });
  }
  $("#focus").addEventListener("change", (e) => {
    setFocus(e.target.value);
    show(sequence()[0] ?? 0);
  });
  $("#naming").addEventListener("change", (e) => {
    const base = body.dataset.scheme;
    const other = e.target.dataset.other;
    body.classList.toggle(`scheme-${base}`, !e.target.checked);
    body.classList.toggle(`scheme-${other}`, e.target.checked);
  });
  const picker = $("#iteration");
  if (picker) {
    picker.addEventListener("change", (e) => {
      for (const it of $$(".iter")) it.hidden = it.id !== e.target.value;
      fillFocus();
      show(sequence()[0] ?? 0);
    });
  }
  document.addEventListener("keydown", (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey || e.target.closest("select, input, textarea")) return;
    const moves = { ArrowRight: 1, ArrowLeft: -1, Home: -Infinity, End: Infinity };
    if (!(e.key in moves)) return;
    e.preventDefault();
    const d = moves[e.key];
    if (Number.isFinite(d)) move(d);
    else { const seq = sequence(); show(d < 0 ? seq[0] : seq[seq.length - 1]); }
  });

  fillFocus();
  show(0);
})();
