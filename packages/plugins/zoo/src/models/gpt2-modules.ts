import type { Value } from "@lathe/core";
import type { TorchScriptWriter } from "../torchscript.js";

/** sqrt(2 / π), the constant of `NewGELUActivation`. */
const GELU_TANH_SCALE = Math.sqrt(2 / Math.PI);

/**
 * `nn.LayerNorm` over the last axis as the opset-9 `layer_norm` symbolic decomposes it (the
 * `LayerNormalization` op only exists from opset 17): (x − mean) / √(var + eps) · weight + bias.
 */
export function layerNorm(
  t: TorchScriptWriter,
  scope: string,
  x: Value,
  params: { weight: Value; bias: Value },
  eps: number,
): Value {
  return t.in(scope, () => {
    const mean = t.op("ReduceMean", [x], { axes: [-1] });
    const centered = t.op("Sub", [x, mean]);
    const squared = t.op("Pow", [centered, t.floatScalar(2)]);
    const variance = t.op("ReduceMean", [squared], { axes: [-1] });
    const std = t.op("Sqrt", [t.op("Add", [variance, t.floatScalar(eps)])]);
    const normalized = t.op("Div", [centered, std]);
    return t.op("Add", [t.op("Mul", [normalized, params.weight]), params.bias]);
  });
}

/**
 * transformers' `Conv1D` (a Linear with [in, out] weights):
 * `addmm(bias, x.view(-1, x.size(-1)), weight).view(x.size()[:-1] + (nf,))`, so the 3-D
 * activations are flattened around a `Gemm` that uses the parameter as stored.
 */
export function conv1d(
  t: TorchScriptWriter,
  scope: string,
  x: Value,
  params: { weight: Value; bias: Value },
  outFeatures: number,
): Value {
  return t.in(scope, () => {
    const batch = t.size(x, 0);
    const sequence = t.size(x, 1);
    const rows = t.view(x, [-1, t.size(x, -1)]);
    const y = t.op("Gemm", [rows, params.weight, params.bias], { alpha: 1, beta: 1 });
    return t.view(y, [batch, sequence, outFeatures]);
  });
}

/** `NewGELUActivation` (gelu_new): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), op by op. */
export function newGelu(t: TorchScriptWriter, scope: string, x: Value): Value {
  return t.in(scope, () => {
    const half = t.op("Mul", [x, t.floatScalar(0.5)]);
    const cube = t.op("Pow", [x, t.floatScalar(3)]);
    const inner = t.op("Add", [x, t.op("Mul", [cube, t.floatScalar(0.044715)])]);
    const tanh = t.op("Tanh", [t.op("Mul", [inner, t.floatScalar(GELU_TANH_SCALE)])]);
    return t.op("Mul", [half, t.op("Add", [tanh, t.floatScalar(1)])]);
  });
}
