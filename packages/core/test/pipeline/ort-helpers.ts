import { floatOutput, int64Tensor, withOrtSession } from "@lathe/core/testing";

/**
 * Runs a causal LM (zoo llama: input_ids, attention_mask, position_ids) on a batch of two
 * two-token sequences, as the test plugin's probe feeds it: ones, and positions 0, 1.
 */
export function runLm(model: Uint8Array | string): Promise<Float32Array> {
  return withOrtSession(model, async (session) => {
    const feeds = Object.fromEntries(
      session.inputNames.map((name) => {
        const values = name.includes("position") ? [0, 1, 0, 1] : [1, 1, 1, 1];
        return [name, int64Tensor(values, [2, 2])];
      }),
    );
    return floatOutput(await session.run(feeds), "logits");
  });
}

/** erf to 1.5e-7 (Abramowitz and Stegun 7.1.26), for the exact (erf) form of Gelu. */
export function erf(x: number): number {
  const sign = Math.sign(x);
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const poly =
    t *
    (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign * (1 - poly * Math.exp(-x * x));
}

export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}
