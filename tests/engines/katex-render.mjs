// Render formulas with KaTeX, throwing on any error.
// stdin: JSON list of {tex, display}; stdout: JSON list of {ok, error} in the same order.
import katex from "katex";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = JSON.parse(input).map(({ tex, display }) => {
  try {
    katex.renderToString(tex, { throwOnError: true, displayMode: display, strict: "error" });
    return { ok: true };
  } catch (e) {
    return { ok: false, error: String(e?.message ?? e) };
  }
});
process.stdout.write(JSON.stringify(results));
