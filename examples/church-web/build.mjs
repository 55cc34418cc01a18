// `npm run build`: bundle src/main.js with esbuild into dist/, next to index.html.
// amplify_outputs.json is read at run time (fetched from the page's own origin), so one build
// serves every stage: `make dev` serves the local one beside dist/, and Amplify Hosting's build
// writes the stage's (AMPLIFY_OUTPUTS) into the project root, which is copied here when present.
import { build } from "esbuild";
import { copyFileSync, existsSync, mkdirSync, rmSync } from "node:fs";

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
if (existsSync("amplify_outputs.json")) copyFileSync("amplify_outputs.json", "dist/amplify_outputs.json");
console.log("built dist/");
