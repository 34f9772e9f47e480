import { createCpuSessions, createPassRandom, type PassContext, type Provider } from "@lathe/core";
import { gpt2 } from "@lathe/plugin-zoo";
import { describe, expect, it } from "vitest";
import { type FlashAttentionOptions, flashAttentionRewrite } from "../src/pass.js";
import { DEFAULTS, opCounts } from "./helpers.js";

/** Runs the pass as the engine does, for a recipe whose target lists `providers`. */
async function runFor(providers: Provider[], target: FlashAttentionOptions["target"] = "auto") {
  const bundle = gpt2.build(gpt2.presets.tiny, { seed: 1 });
  const infos: string[] = [];
  const context: PassContext<FlashAttentionOptions> = {
    options: { ...DEFAULTS, target },
    stepId: "attention",
    passId: flashAttentionRewrite.id,
    logger: { debug() {}, info: (m) => infos.push(m), warn() {} },
    progress: { start() {}, advance() {} },
    sessions: createCpuSessions({ threads: 1 }),
    target: { providers },
    data: () => {
      throw new Error("no data");
    },
    random: createPassRandom(0, flashAttentionRewrite.id, "test"),
    signal: new AbortController().signal,
    scratchDir: "/tmp",
    resolve: (p) => p,
  };
  const result = await flashAttentionRewrite.run(bundle, context);
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

  it("an explicit target wins over the recipe's", async () => {
    const { infos, model } = await runFor(["cuda"], "cpu");
    expect(infos).not.toContain("fusing for target cuda");
    expect(opCounts(model).GroupQueryAttention).toBe(gpt2.presets.tiny!.layers);
  });
});
