import { join } from "node:path";
import {
  createBuilder,
  DataType,
  definePass,
  definePlugin,
  encodeModel,
  isLatheError,
  loadBundle,
  loadPlugins,
  type Model,
  type PipelineEvent,
  PLUGIN_API_VERSION,
  planRecipe,
  runPipeline,
  saveModel,
} from "@lathe/core";
import { randomFloats, runFloats, tempDirs } from "@lathe/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { makeRecipe, type Steps } from "./recipe-fixture.js";

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-min-opset-");

/** A pass that needs opset 13 and records the opset it was given. */
const needs13 = definePass({
  id: "opset-test/needs-13",
  summary: "needs opset 13",
  options: { type: "object", properties: {} },
  requires: { minOpset: 13 },
  run(bundle) {
    const opset = bundle.components.get("model")?.opset("") ?? 0;
    return { bundle, modified: false, statistics: { "opset-seen": opset } };
  },
});
const plugin = definePlugin({
  meta: { name: "opset-test", version: "1.0.0", apiVersion: PLUGIN_API_VERSION },
  passes: [needs13],
});

/** An opset-9 export whose Unsqueeze and Softmax changed form by 13. */
function opset9(): Model {
  const b = createBuilder({ opset: 9 });
  const x = b.input("x", DataType.FLOAT, [2, 3, 4]);
  b.output(b.Unsqueeze(b.Softmax(x, { axis: 1 }), { axes: [0] }), "y");
  return b.build();
}

async function runRecipe(name: string, model: Model, steps: Steps) {
  const dir = join(root, name);
  await saveModel(model, join(dir, "model.onnx"));
  const recipe = await makeRecipe(dir, steps, { model: "model.onnx", plugins: [] });
  const registry = await loadPlugins([], dir, { builtins: [plugin] });
  const events: PipelineEvent[] = [];
  const result = await runPipeline(planRecipe(recipe, registry), {
    onEvent: (e) => events.push(e),
  }).catch((error: unknown) => error);
  return { dir, result, events };
}

describe("requires.minOpset", () => {
  it("converts an older input first when that is exact, and says so in the step's log", async () => {
    const { dir, result, events } = await runRecipe("converts", opset9(), {
      step: { use: "opset-test/needs-13" },
    });
    if (isLatheError(result)) throw result;
    const logs = events.flatMap((e) => (e.type === "step-log" ? [e.message] : []));
    expect(logs).toEqual([
      'converted component "model" from opset 9 to 13 first, as opset-test/needs-13 requires (exact; softmax-coerced-2d-to-axis ×1 (Softmax, 13), axes-attribute-to-input ×1 (Unsqueeze, 13))',
    ]);
    const end = events.find((e) => e.type === "step-end");
    expect(end?.type === "step-end" && end.statistics).toEqual({ "opset-seen": 13 });
    // The written candidate is the converted model, computing what the input did.
    const written = (await loadBundle(join(dir, "out", "step"))).components.get("model")!;
    expect(written.opset("")).toBe(13);
    const feeds = { x: { data: randomFloats(24, 5), dims: [2, 3, 4] } };
    const expected = await runFloats(encodeModel(opset9()), feeds);
    const actual = await runFloats(encodeModel(written), feeds);
    for (const [i, v] of actual.y!.entries()) expect(v).toBeCloseTo(expected.y![i]!, 6);
  });

  it("fails the step when the step says convertOpset: false", async () => {
    const { result } = await runRecipe("no-convert", opset9(), {
      step: { use: "opset-test/needs-13", convertOpset: false },
    });
    expect(isLatheError(result) && result.message).toMatch(
      /needs opset 13 or newer, and component "model" imports opset 9; the step has convertOpset: false/,
    );
  });

  it("fails the step, naming the node and why, when the conversion is not exact", async () => {
    const b = createBuilder({ opset: 8 });
    const x = b.input("x", DataType.FLOAT, [2, 3]);
    const c = (v: number) => b.constant([v, v, v], [3]);
    const bn = b.node(
      "BatchNormalization",
      [x, c(1), c(0), c(0), c(1)],
      { spatial: 0 },
      { name: "bn" },
    );
    b.output(bn.output, "y");
    const { result } = await runRecipe("inexact", b.build(), {
      step: { use: "opset-test/needs-13" },
    });
    expect(isLatheError(result) && result.code).toBe("PASS_REQUIREMENT");
    expect(isLatheError(result) && result.message).toMatch(
      /converting it is not exact: node "bn" \(BatchNormalization\): at opset 9: spatial=0/,
    );
  });
});
