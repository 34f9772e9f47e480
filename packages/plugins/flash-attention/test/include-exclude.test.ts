import { runPassStandalone } from "@lathe/core";
import { opCounts } from "@lathe/core/testing";
import { gpt2 } from "@lathe/plugin-zoo";
import { describe, expect, it } from "vitest";
import { flashAttentionRewrite } from "../src/pass.js";

const build = () => gpt2.build(gpt2.presets.tiny, { seed: 3 });

/** Runs the pass as the engine does (options checked against its schema) and lists what it fused. */
async function fused(options: Record<string, unknown>) {
  const { result } = await runPassStandalone(flashAttentionRewrite, build(), { options });
  const model = result.bundle.components.get("model")!;
  const softmaxes = [...model.graph].filter((n) => n.opType === "Softmax").map((n) => n.name);
  return { statistics: result.statistics ?? {}, softmaxes, ops: opCounts(model) };
}

// The same meaning as the quantize passes (core's createNameFilter): regular expressions searched
// in the Softmax node's name; a plain name matches by containment; exclude wins over include.
describe("flash-attention/rewrite include/exclude", () => {
  it("include is a regular expression: /h\\.1/ fuses only layer 1's attention", async () => {
    const { statistics, softmaxes, ops } = await fused({ include: ["/h\\.1/"] });
    expect(softmaxes).toEqual(["/transformer/h.0/attn/Softmax"]);
    expect(ops.GroupQueryAttention).toBe(1);
    expect(statistics.fused).toBe(1);
    expect(statistics.skipped).toBe(1);
  });

  it("a plain exclude matches by containment and wins over include", async () => {
    const { softmaxes, ops } = await fused({ include: ["attn"], exclude: ["h.0/"] });
    expect(softmaxes).toEqual(["/transformer/h.0/attn/Softmax"]);
    expect(ops.GroupQueryAttention).toBe(1);
  });

  it("anchors make a pattern exact", async () => {
    const { softmaxes } = await fused({ include: ["^attn/Softmax$"] });
    expect(softmaxes).toHaveLength(gpt2.presets.tiny.layers);
  });

  it("an invalid regular expression is refused with the option named", async () => {
    await expect(fused({ exclude: ["h.0/("] })).rejects.toMatchObject({
      code: "PASS_OPTIONS_INVALID",
      message: expect.stringContaining("exclude/0"),
    });
  });
});
