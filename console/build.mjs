// `npm run build`: bundle src/main.js (Amplify Auth, Chart.js, the views) with esbuild into dist/,
// next to index.html. console_outputs.json is read at run time from the page's own origin, so one
// build serves every stage: `make dev` serves the local one beside dist/; a hosted stage's build
// gives its own as $CONSOLE_OUTPUTS (as app frontends get $AMPLIFY_OUTPUTS) or as a file in this
// directory, and it goes into dist/.
import { build } from "esbuild";
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist");
await build({
  entryPoints: ["src/main.js"],
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  sourcemap: true,
  outfile: "dist/app.js",
  logLevel: "warning",
});
copyFileSync("index.html", "dist/index.html");
// Parsed first: a malformed document fails the build, not the page.
if (process.env.CONSOLE_OUTPUTS) writeFileSync("dist/console_outputs.json", JSON.stringify(JSON.parse(process.env.CONSOLE_OUTPUTS), null, 2));
else if (existsSync("console_outputs.json")) copyFileSync("console_outputs.json", "dist/console_outputs.json");
console.log("built dist/");
