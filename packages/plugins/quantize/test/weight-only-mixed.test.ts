import { type DataRecord, DataType, type Model, relativeL2, Tensor } from "@lathe/core";
import { runFloat } from "@lathe/core/testing";
import { gpt2, llama } from "@lathe/plugin-zoo";
import { describe, expect, it } from "vitest";
import { weightOnlyPass } from "../src/weight-only/weight-only.js";
import { component, lmFeeds, runPass, tokenRows } from "./int8-fixtures.js";

/** Bits of every quantized op, by the name of the node it replaced. */
function bitsByNode(model: Model): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of model.graph) {
    if (n.opType === "MatMulNBits" || n.opType === "GatherBlockQuantized")
      out[n.name.replace(/_Q[48]$/, "")] = n.getInt("bits");
  }
  return out;
}

const ids = tokenRows(2, 16, gpt2.presets.tiny.vocab, 5);

describe("quantize/weight-only: mixed precision", () => {
  it("gpt2 (tied): embeddings and the LM head at 8 bits, the body at 4; closer to fp32 than all-4", async () => {
    const build = () => gpt2.build(gpt2.presets.tiny, { seed: 3 });
    const reference = await runFloat(component(build()), lmFeeds(ids), "logits");
    const { result } = await runPass(weightOnlyPass, build());
    const bits = bitsByNode(component(result.bundle));
    expect(bits["/lm_head/MatMul"]).toBe(8);
    expect(bits["/transformer/wte/Gather"]).toBe(8);
    expect(bits["/transformer/wpe/Gather"]).toBe(8);
    expect(bits["/transformer/h.0/attn/c_attn/Gemm"]).toBe(4);
    expect(bits["/transformer/h.1/mlp/c_proj/Gemm"]).toBe(4);
    expect(result.statistics?.["weights at 4 bits"]).toBe(4 * gpt2.presets.tiny.layers);
    const mixed = relativeL2(
      reference,
      await runFloat(component(result.bundle), lmFeeds(ids), "logits"),
    );
    const all4 = await runPass(weightOnlyPass, build(), { headBits: 4 });
    expect(Object.values(bitsByNode(component(all4.result.bundle)))).not.toContain(8);
    const uniform = relativeL2(
      reference,
      await runFloat(component(all4.result.bundle), lmFeeds(ids), "logits"),
    );
    // Measured: relative L2 0.074 mixed against 0.137 with everything at 4 bits.
    expect(mixed).toBeLessThan(0.8 * uniform);
  });

  it("llama (untied): the LM head at 8 bits; bitsByName overrides by node name, first match wins", async () => {
    const build = () => llama.build(llama.presets.tiny, { seed: 3 });
    const { result } = await runPass(weightOnlyPass, build(), {
      bitsByName: { "layers\\.0/mlp/down_proj": 8, lm_head: 4, "layers\\.0/": 8 },
    });
    const bits = bitsByNode(component(result.bundle));
    expect(bits["/lm_head/MatMul"]).toBe(4);
    expect(bits["/model/embed_tokens/Gather"]).toBe(8);
    expect(bits["/model/layers.0/self_attn/q_proj/MatMul"]).toBe(8);
    expect(bits["/model/layers.0/mlp/down_proj/MatMul"]).toBe(8);
    expect(bits["/model/layers.1/self_attn/k_proj/MatMul"]).toBe(4);
    const defaults = bitsByNode(component((await runPass(weightOnlyPass, build())).result.bundle));
    expect(defaults["/lm_head/MatMul"]).toBe(8);
    expect(defaults["/model/layers.0/self_attn/v_proj/MatMul"]).toBe(4);
  });
});

describe("quantize/weight-only: sensitivity", () => {
  it("measures each layer group quantized alone on the calibration data; the model comes out as without it", async () => {
    const build = () => gpt2.build(gpt2.presets.tiny, { seed: 3 });
    const records: DataRecord[] = [0, 1].map((seed) => {
      const rows = tokenRows(2, 16, gpt2.presets.tiny.vocab, 40 + seed);
      const feeds = lmFeeds(rows);
      return Object.fromEntries(
        Object.entries(feeds).map(([name, t]) => [
          name,
          Tensor.fromArray(DataType.INT64, [...t.dims], t.data as BigInt64Array),
        ]),
      );
    });
    const gptq = { calibration: "calib", samples: 2 };
    const { result } = await runPass(
      weightOnlyPass,
      build(),
      { sensitivity: true, gptq: gptq as never, accuracyLevel: 0 },
      { calib: records },
    );
    const stats = result.statistics ?? {};
    const cost = (group: string) => Number(stats[`sensitivity: ${group} (rel. L2 of logits)`]);
    for (const group of ["embeddings", "layer 0", "layer 1", "lm-head"])
      expect(cost(group)).toBeGreaterThan(0);
    expect(stats.warning).toBeUndefined(); // real (named) data
    // The swaps were undone: the quantized model is the one a run without sensitivity makes.
    const plain = await runPass(weightOnlyPass, build(), { accuracyLevel: 0 });
    const feeds = lmFeeds(ids);
    expect(await runFloat(component(result.bundle), feeds, "logits")).toEqual(
      await runFloat(component(plain.result.bundle), feeds, "logits"),
    );
    // Layer 0 alone, quantized for real (MatMulNBits), costs what the measurement said.
    const layer0 = await runPass(weightOnlyPass, build(), {
      include: ["/h\\.0/"],
      accuracyLevel: 0,
    });
    const got: number[] = [];
    const want: number[] = [];
    for (const r of records) {
      got.push(...(await runFloat(component(layer0.result.bundle), r, "logits")));
      want.push(...(await runFloat(component(build()), r, "logits")));
    }
    // Measured: embeddings 0.0073, layer 0 0.0554, layer 1 0.0488, lm-head 0.0064 (both at 8
    // bits); layer 0 quantized for real: 0.0554.
    expect(relativeL2(want, got)).toBeCloseTo(cost("layer 0"), 2);
  });
});
