import { mkdtemp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  builtinDataPlugin,
  builtinMetricsPlugin,
  loadPlugins,
  type PluginRegistry,
  planRecipe,
  type Recipe,
  runPipeline,
} from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { npzBytes, tokenInputs } from "../../../../test/helpers/npz.js";
import zooPlugin, { gpt2 } from "../../../plugins/zoo/src/index.js";
import { makeRecipe, TEST_PLUGIN } from "../pipeline/recipe-fixture.js";

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-eval-data-keys-");
let registry: PluginRegistry;
beforeAll(async () => {
  registry = await loadPlugins([TEST_PLUGIN], root, {
    builtins: [zooPlugin, builtinMetricsPlugin, builtinDataPlugin],
  });
});

async function recipe(dir: string): Promise<Recipe> {
  return makeRecipe(
    dir,
    { triple: { use: "test/scale-output", options: { factor: 3 } } },
    {
      model: "zoo:gpt2?size=tiny",
      data: { eval: { use: "npz", options: { path: "eval.npz", split: false } } },
      evaluate: { metrics: { "core/fidelity": { samples: 1, data: "eval" } }, constraints: [] },
    },
  );
}

async function fidelity(r: Recipe) {
  const { report } = await runPipeline(planRecipe(r, registry));
  const candidate = report.evaluation!.candidates[0]!;
  return { cached: candidate.metrics.fidelity!.cached, kl: candidate.values.fidelity!.kl! };
}

describe("evaluation cache keys", () => {
  it("follow the contents of the data a metric reads: an edited .npz is measured again", async () => {
    const dir = await mkdtemp(join(root, "fidelity-"));
    const r = await recipe(dir);
    const vocab = gpt2.presets.tiny.vocab;
    await writeFile(join(dir, "eval.npz"), npzBytes(tokenInputs(2, 8, vocab, 1)));
    const first = await fidelity(r);
    expect(first.cached).toBe(false);
    expect(first.kl).toBeGreaterThan(0);
    expect(await fidelity(r)).toEqual({ cached: true, kl: first.kl });

    // Same file name, same size, other tokens.
    await writeFile(join(dir, "eval.npz"), npzBytes(tokenInputs(2, 8, vocab, 2)));
    const edited = await fidelity(r);
    expect(edited.cached).toBe(false);
    expect(edited.kl).not.toBe(first.kl);
  });
});
