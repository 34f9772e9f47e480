import {
  checkModel,
  loadModel,
  type Model,
  runPassStandalone,
  singleModelBundle,
} from "@lathe/core";
import { afterAll, describe, expect, it } from "vitest";
import { loadCorpus } from "../../../../test/corpus/corpus.js";
import { structuredPass } from "../src/index.js";
import { feedsFor, fitTo, maxAbsDiff, run, zeroedReference } from "./structured-helpers.js";

const corpus = loadCorpus();
const models = typeof corpus === "string" ? [] : corpus.models;

/** The exports whose heads and MLP channels must both be pruned (the issue names GPT-2, LLaMA and BERT). */
const REQUIRED = new Set(["gpt2", "gpt2-past", "llama", "llama-past", "bert"]);

/** What each export lost and how far it is from the zeroed reference, printed after the run. */
const table: string[] = [];
afterAll(() => {
  if (table.length)
    console.log(["model heads channels max-abs-vs-reference skipped-reasons", ...table].join("\n"));
});

describe.skipIf(typeof corpus === "string")("prune/structured on the real-export corpus", () => {
  if (typeof corpus === "string") it.skip(corpus, () => {});
  it.each(models.map((m) => [m.name, m] as const))("%s", async (name, entry) => {
    const original = await loadModel(entry.path);
    const result = await runPassStandalone(structuredPass, singleModelBundle(original), {
      options: { heads: 0.5, channels: 0.5, multipleOf: 1 },
    });
    const stats = result.result.statistics ?? {};
    const model = result.result.bundle.components.get("model") as Model;
    if (REQUIRED.has(name)) {
      expect(stats["heads-removed"], JSON.stringify(stats)).toBeGreaterThan(0);
      expect(stats["channels-removed"], JSON.stringify(stats)).toBeGreaterThan(0);
    }
    const reasons = Object.keys(stats).filter((k) => k.startsWith("skipped: ")).length;
    const row = (diff: string) =>
      table.push(
        `${name} ${stats["heads-removed"]}/${stats.heads} ${stats["channels-removed"]}/${stats.channels} ${diff} ${reasons}`,
      );
    if (!result.result.modified) {
      row("unchanged");
      return;
    }
    const findings = checkModel(model).findings.filter((f) => f.severity === "error");
    expect(findings).toEqual([]);
    // the same units zeroed in the original (where the weights are initializers)
    const reference = zeroedReference(await loadModel(entry.path), model);
    const feeds = feedsFor(reference.model);
    const out = await run(model, fitTo(feeds, model));
    for (const tensor of Object.values(out))
      expect((tensor.toArray() as Float32Array).every(Number.isFinite)).toBe(true);
    if (reference.zeroed === 0) {
      row("(weights are Constant nodes: no reference)");
      return;
    }
    const diff = maxAbsDiff(await run(reference.model, feeds), out);
    row(diff.toExponential(1));
    expect(diff).toBeLessThanOrEqual(1e-4);
  });
});
