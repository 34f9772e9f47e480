import {
  DataType,
  evaluateDim,
  generateInputs,
  isLatheError,
  type Model,
  openSession,
  type Tensor,
  type ValueSignature,
} from "@lathe/core";
import { describe, expect, test } from "vitest";
import { gmmDiffusion, gpt2, llama, unet, vae } from "../../../plugins/zoo/src/index.js";

const ints = (t: Tensor) => [...(t.toArray() as BigInt64Array)].map(Number);
const floats = (t: Tensor) => [...(t.toArray() as Float32Array)];

/** Generates inputs from the session's own signature and runs the model on them. */
async function runGenerated(model: Model, options: Parameters<typeof generateInputs>[1]) {
  const session = await openSession(model, { target: { threads: 1 } });
  try {
    const inputs = generateInputs(session.inputs, options);
    const outputs = await session.run(inputs);
    for (const [name, tensor] of Object.entries(outputs)) {
      expect(floats(tensor).every(Number.isFinite), `${name} is finite`).toBe(true);
    }
    return { inputs, outputs, signature: session.inputs };
  } finally {
    await session.release();
  }
}

describe("generateInputs runs every zoo model", () => {
  for (const [name, zoo] of [
    ["gpt2", gpt2],
    ["llama", llama],
  ] as const) {
    test(`${name}: token ids within the vocabulary, masks of ones, positions 0..n-1`, async () => {
      const model = zoo.build(zoo.presets.tiny as never, { seed: 1 }).components.get("model")!;
      const { inputs, outputs } = await runGenerated(model, {
        shapes: { input_ids: [2, 8] },
        vocabSize: 1000,
        seed: 3,
      });
      const ids = ints(inputs.input_ids!);
      expect(inputs.input_ids!.dataType).toBe(DataType.INT64);
      expect(ids.every((id) => id >= 0 && id < 1000)).toBe(true);
      expect(new Set(ids).size).toBeGreaterThan(8);
      expect(ints(inputs.attention_mask!)).toEqual(Array(16).fill(1));
      expect(ints(inputs.position_ids!)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7]);
      expect(outputs.logits!.dims).toEqual([2, 8, 1000]);
    });

    test(`${name} with kvCache: past_key_values of the past length, positions after it`, async () => {
      const config = { ...zoo.presets.tiny, kvCache: true } as never;
      const model = zoo.build(config, { seed: 1 }).components.get("model")!;
      const { inputs, outputs, signature } = await runGenerated(model, {
        shapes: { input_ids: [1, 1] },
        past: 5,
        vocabSize: 1000,
      });
      const past = signature.filter((s) => s.name.startsWith("past_key_values."));
      expect(past.length).toBe(4);
      for (const p of past) {
        const t = inputs[p.name]!;
        expect(t.dims[2]).toBe(5);
        expect(t.dims).toEqual([1, p.dims[1], 5, p.dims[3]]);
        // Seeded normals: centred, spread, not constant.
        const values = floats(t);
        const mean = values.reduce((a, b) => a + b, 0) / values.length;
        expect(Math.abs(mean)).toBeLessThan(0.3);
        expect(Math.max(...values) - Math.min(...values)).toBeGreaterThan(2);
      }
      expect(inputs.attention_mask!.dims).toEqual([1, 6]);
      expect(ints(inputs.position_ids!)).toEqual([5]);
      expect(outputs.logits!.dims).toEqual([1, 1, 1000]);
    });
  }

  test("unet: sample, timestep below 1000, encoder states", async () => {
    const model = unet.build(unet.presets.tiny, { seed: 1 }).components.get("unet")!;
    const { inputs, outputs } = await runGenerated(model, {
      shapes: { sample: [1, 4, 8, 8], encoder_hidden_states: [1, 6, 32] },
      dims: { steps: 1 },
    });
    const [t] = floats(inputs.timestep!);
    expect(Number.isInteger(t)).toBe(true);
    expect(t).toBeGreaterThanOrEqual(0);
    expect(t).toBeLessThan(1000);
    expect(outputs.out_sample!.dims).toEqual([1, 4, 8, 8]);
  });

  test("vae: encoder and decoder components", async () => {
    const bundle = vae.build(vae.presets.tiny, { seed: 1 });
    const encoded = await runGenerated(bundle.components.get("vae_encoder")!, {
      shapes: { sample: [1, 3, 32, 32] },
    });
    expect(encoded.outputs.latent_parameters!.dims).toEqual([1, 8, 4, 4]);
    const decoded = await runGenerated(bundle.components.get("vae_decoder")!, {
      shapes: { latent_sample: [1, 4, 4, 4] },
    });
    expect(decoded.outputs.sample!.dims).toEqual([1, 3, 32, 32]);
  });

  test("gmm-diffusion: one timestep per row", async () => {
    const model = gmmDiffusion
      .build(gmmDiffusion.presets.tiny, { seed: 1 })
      .components.get("model")!;
    const { outputs } = await runGenerated(model, { dims: { batch_size: 4, steps: 4 } });
    expect(outputs.out_sample!.dims).toEqual([4, 2]);
  });
});

describe("generateInputs", () => {
  const signature: ValueSignature[] = [
    { name: "input_ids", dataType: DataType.INT64, dims: ["batch", "seq"] },
    { name: "pixel", dataType: DataType.FLOAT16, dims: ["batch", 2] },
    { name: "x64", dataType: DataType.DOUBLE, dims: [3] },
    { name: "flags", dataType: DataType.BOOL, dims: [4] },
    { name: "mask", dataType: DataType.BOOL, dims: ["batch", "seq"] },
    { name: "ids32", dataType: DataType.INT32, dims: ["seq"] },
  ];

  test("the same seed gives the same inputs; another seed other floats and ids", () => {
    const a = generateInputs(signature, { shapes: { input_ids: [2, 5] }, seed: 1 });
    const b = generateInputs(signature, { shapes: { input_ids: [2, 5] }, seed: 1 });
    const c = generateInputs(signature, { shapes: { input_ids: [2, 5] }, seed: 2 });
    for (const name of Object.keys(a)) expect(b[name]!.bytes()).toEqual(a[name]!.bytes());
    expect(c.input_ids!.bytes()).not.toEqual(a.input_ids!.bytes());
    expect(c.pixel!.bytes()).not.toEqual(a.pixel!.bytes());
  });

  test("every dtype gets a tensor of its type and shape", () => {
    const r = generateInputs(signature, { dims: { batch: 2, seq: 3 } });
    expect(
      Object.fromEntries(Object.entries(r).map(([n, t]) => [n, [t.dataType, t.dims]])),
    ).toEqual({
      input_ids: [DataType.INT64, [2, 3]],
      pixel: [DataType.FLOAT16, [2, 2]],
      x64: [DataType.DOUBLE, [3]],
      flags: [DataType.BOOL, [4]],
      mask: [DataType.BOOL, [2, 3]],
      ids32: [DataType.INT32, [3]],
    });
    expect([...(r.mask!.toArray() as Uint8Array)]).toEqual([1, 1, 1, 1, 1, 1]);
    // float16 values decode to finite normals.
    expect([...(r.pixel!.toArray() as Float32Array)].every(Number.isFinite)).toBe(true);
  });

  test("an unbound symbolic dim names the input, the dim and both fixes", () => {
    let error: unknown;
    try {
      generateInputs(signature, { shapes: { pixel: [1, 2] } });
    } catch (e) {
      error = e;
    }
    expect(isLatheError(error)).toBe(true);
    const e = error as { code: string; message: string; hint: string };
    expect(e.code).toBe("SHAPE_UNBOUND");
    expect(e.message).toBe(
      'input "input_ids" has the symbolic dim "seq", and nothing gives it a size',
    );
    expect(e.hint).toContain("shapes: { input_ids: [1, 16] }");
    expect(e.hint).toContain("--shape input_ids=1x16");
  });

  test("a shape that contradicts a static dim is refused", () => {
    expect(() =>
      generateInputs(signature, { shapes: { pixel: [1, 3] }, dims: { seq: 2 } }),
    ).toThrow(/has 3 at axis 1, where the model has 2/);
  });

  test("dim expressions", () => {
    expect(evaluateDim("past_sequence_length + 1", { past_sequence_length: 7 })).toBe(8);
    expect(evaluateDim("2*seq - 1", { seq: 4 })).toBe(7);
    expect(evaluateDim("past + 1", {})).toBeUndefined();
    expect(evaluateDim("floor(seq / 2)", { seq: 4 })).toBeUndefined();
  });
});
