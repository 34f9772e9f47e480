import type { Model, ModelBundle, PassDefinition, Tensor } from "@lathe/core";
import { DataType } from "@lathe/core";
import { gpt2 } from "@lathe/plugin-zoo";
import { describe, expect, it } from "vitest";
import { dynamicInt8Pass } from "../src/int8/dynamic-int8.js";
import { staticInt8Pass } from "../src/int8/static-int8.js";
import { weightOnlyPass } from "../src/weight-only/weight-only.js";
import { component, runPass } from "./int8-fixtures.js";

const build = (): ModelBundle => gpt2.build(gpt2.presets.tiny, { seed: 3 });

/** The weight nodes (Gemm, MatMul with a constant weight) of tiny gpt2, by name. */
function weightNodes(model: Model): string[] {
  return [...model.graph]
    .filter((n) => (n.opType === "Gemm" || n.opType === "MatMul") && floatWeight(model, n.name))
    .map((n) => n.name);
}

/** Whether the node `name` is still there with a float32 constant weight: untouched. */
function floatWeight(model: Model, name: string): boolean {
  const node = [...model.graph].find((n) => n.name === name);
  const weight = node?.inputs[1]?.constValue as Tensor | undefined;
  return weight?.dataType === DataType.FLOAT && weight.dims.length === 2;
}

// One meaning in every pass (core's createNameFilter): regular expressions searched in the node
// name. `/h\.1/` is a regex (the escaped dot), `c_proj` a plain name matching by containment;
// exclude wins over include.
const FILTER = { include: ["/h\\.1/"], exclude: ["c_proj"] };
const SELECTED = ["/transformer/h.1/attn/c_attn/Gemm", "/transformer/h.1/mlp/c_fc/Gemm"];

describe("include/exclude in the quantize passes", () => {
  const before = weightNodes(component(build()));

  it.each<[string, PassDefinition<never>, Record<string, unknown>]>([
    ["quantize/dynamic-int8", dynamicInt8Pass as PassDefinition<never>, {}],
    ["quantize/static-int8", staticInt8Pass as PassDefinition<never>, {}],
    ["quantize/weight-only", weightOnlyPass as PassDefinition<never>, {}],
  ])(
    "%s quantizes exactly the weights include selects and exclude leaves",
    async (_id, pass, extra) => {
      expect(before).toEqual(expect.arrayContaining(SELECTED));
      const { result } = await runPass(pass, build(), { ...FILTER, ...extra } as never);
      const model = component(result.bundle);
      const quantized = before.filter((name) => !floatWeight(model, name));
      expect(quantized).toEqual(SELECTED);
      const stats = result.statistics ?? {};
      // Both layers' attention and MLP output projections.
      expect(stats['skipped: name matches exclude pattern "c_proj"']).toBe(4);
      expect(stats["skipped: name matches no include pattern"]).toBeGreaterThanOrEqual(
        before.length - 4,
      );
    },
  );

  it("an unanchored plain name matches by containment; ^ and $ anchor it", async () => {
    const { result } = await runPass(dynamicInt8Pass, build(), {
      include: ["^/transformer/h\\.0/mlp/c_fc/Gemm$", "attn/c_attn"],
    });
    const model = component(result.bundle);
    expect(before.filter((name) => !floatWeight(model, name))).toEqual([
      "/transformer/h.0/attn/c_attn/Gemm",
      "/transformer/h.0/mlp/c_fc/Gemm",
      "/transformer/h.1/attn/c_attn/Gemm",
    ]);
  });
});
