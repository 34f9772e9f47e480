import { type Provider, runPassStandalone } from "@lathe/core";
import { opCounts } from "@lathe/core/testing";
import { gpt2 } from "@lathe/plugin-zoo";
import { describe, expect, it } from "vitest";
import { type FlashAttentionOptions, flashAttentionRewrite } from "../src/pass.js";

/** Runs the pass as the engine does, for a recipe whose target lists `providers`. */
async function runFor(
  providers: Provider[],
  target: FlashAttentionOptions["target"] = "auto",
  explain = false,
) {
  const { result, logs } = await runPassStandalone(
    flashAttentionRewrite,
    gpt2.build(gpt2.presets.tiny, { seed: 1 }),
    { options: { target }, providers, explain },
  );
  const infos = logs.filter((l) => l.level === "info").map((l) => l.message);
  return { result, infos, model: result.bundle.components.get("model")! };
}

describe("flash-attention/rewrite: target auto follows the recipe's providers", () => {
  it("fuses for cpu when the recipe targets cpu", async () => {
    const { result, infos, model } = await runFor(["cpu"]);
    expect(infos).toContain("fusing for target cpu");
    expect(result.statistics?.["fused.causal-buffer"]).toBe(gpt2.presets.tiny!.layers);
    expect(opCounts(model).GroupQueryAttention).toBe(gpt2.presets.tiny!.layers);
  });

  it.each([["cuda"], ["tensorrt", "cpu"]] as Provider[][])(
    "applies CUDA's kernel conditions for %s (fp32 causal blocks are declined)",
    async (...providers) => {
      const { result, infos, model } = await runFor(providers);
      expect(infos).toContain("fusing for target cuda");
      expect(result.modified).toBe(false);
      const declined = Object.keys(result.statistics ?? {}).filter((k) =>
        k.startsWith("declined: GroupQueryAttention on CUDA runs fp16/bf16 only"),
      );
      expect(declined, JSON.stringify(result.statistics)).toHaveLength(1);
      expect(opCounts(model).GroupQueryAttention).toBeUndefined();
    },
  );

  it("lathe run --explain (ctx.explain) logs the trace: every Softmax and the rule that fused it", async () => {
    const quiet = await runFor(["cpu"]);
    expect(quiet.infos.some((m) => m.includes("fused by"))).toBe(false);
    const { infos } = await runFor(["cpu"], "auto", true);
    const fused = infos.filter((m) => /^model: Softmax ".*": fused by causal-buffer$/.test(m));
    expect(fused, infos.join("\n")).toHaveLength(gpt2.presets.tiny!.layers);
  });

  it("an explicit target wins over the recipe's", async () => {
    const { infos, model } = await runFor(["cuda"], "cpu");
    expect(infos).not.toContain("fusing for target cuda");
    expect(opCounts(model).GroupQueryAttention).toBe(gpt2.presets.tiny!.layers);
  });
});
