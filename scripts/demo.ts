/**
 * The README's first command: builds a small GPT-2-shaped model with Lathe's builder (the same
 * fixture the tests use), saves it, and runs `lathe inspect` on it.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { saveModel } from "@lathe/core";
import { buildTransformer, TINY } from "../test/fixtures/transformer.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, ".lathe", "demo");
mkdirSync(out, { recursive: true });
const file = join(out, "tiny-gpt2.onnx");
await saveModel(buildTransformer(TINY), file);
console.log(`built ${file}\n`);
execFileSync(process.execPath, [join(root, "packages/cli/bin/run.js"), "inspect", file], {
  stdio: "inherit",
});
