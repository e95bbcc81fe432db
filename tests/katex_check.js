// Reads Markdown on stdin; prints "<errors> <total>" for its $$ blocks and inline $..$ cells.
const katex = require("katex");
let src = require("fs").readFileSync(0, "utf8");
const blocks = [...src.matchAll(/\$\$\n([\s\S]*?)\n\$\$/g)].map(m => m[1]);
src = src.replace(/\$\$\n[\s\S]*?\n\$\$/g, "");
const inline = [...src.matchAll(/\$([^$\n]+)\$/g)].map(m => m[1]);
let bad = 0;
for (const f of [...blocks, ...inline]) {
  try { katex.renderToString(f, {throwOnError: true, displayMode: true}); }
  catch (e) { bad++; if (bad <= 3) console.error(f.slice(0, 120), "::", e.message.slice(0, 100)); }
}
console.log(bad, blocks.length + inline.length);
