// Render formulas with KaTeX, throwing on any error.
// stdin: JSON list of {tex, display}; stdout: JSON list of {ok, error, warnings} in the same order
// (warnings: what KaTeX's strict mode would flag, e.g. Unicode text in math; reported, not errors).
import katex from "katex";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = JSON.parse(input).map(({ tex, display }) => {
  const warnings = [];
  const strict = (code, message) => { warnings.push(`${code}: ${message}`); return "ignore"; };
  try {
    katex.renderToString(tex, { throwOnError: true, displayMode: display, strict });
    return { ok: true, warnings };
  } catch (e) {
    return { ok: false, error: String(e?.message ?? e) };
  }
});
process.stdout.write(JSON.stringify(results));
