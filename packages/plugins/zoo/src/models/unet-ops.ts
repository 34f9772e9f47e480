import { DataType, Tensor, type Value } from "@lathe/core";
import type { SizeItem, TorchScriptWriter } from "../torchscript.js";

/**
 * The torch 2.1 TorchScript symbolics (opset 14) of the layers a diffusers UNet is made of, each
 * writing the nodes the exporter writes for one module call. `scope` is the module's path
 * (`/down_blocks.0/resnets.0/norm1`).
 */

/**
 * The node-name scope torch gives a module from its state-dict path: list indices stay with
 * their list (`down_blocks.0.resnets.1.conv1` → `/down_blocks.0/resnets.1/conv1`).
 */
export function moduleScope(path: string): string {
  const levels: string[] = [];
  for (const atom of path.split(".")) {
    if (/^\d+$/.test(atom) && levels.length > 0) levels[levels.length - 1] += `.${atom}`;
    else levels.push(atom);
  }
  return `/${levels.join("/")}`;
}

export interface Affine {
  weight: Value;
  bias: Value;
}

/**
 * `x.view(*sizes)` / `x.reshape(*sizes)`: both reach `_reshape_helper`, which from opset 14
 * writes `allowzero=0` (the writer's `view` leaves the attribute out).
 */
export function view(t: TorchScriptWriter, x: Value, sizes: readonly SizeItem[]): Value {
  return t.reshape(x, t.sizeList(sizes));
}

/** `nn.Conv2d` (`aten::_convolution`): one Conv on the stored weight and bias. */
export function conv2d(
  t: TorchScriptWriter,
  scope: string,
  x: Value,
  params: Affine,
  kernel: number,
  options: { stride?: number; padding: number },
): Value {
  const { stride = 1, padding } = options;
  return t.in(scope, () =>
    t.op("Conv", [x, params.weight, params.bias], {
      dilations: [1, 1],
      group: 1,
      kernel_shape: [kernel, kernel],
      pads: [padding, padding, padding, padding],
      strides: [stride, stride],
    }),
  );
}

/** `nn.Linear` on a 2-d input: `addmm`, with the weight's transpose fused into the Gemm. */
export function gemm(t: TorchScriptWriter, scope: string, x: Value, params: Affine): Value {
  return t.in(scope, () =>
    t.op("Gemm", [x, params.weight, params.bias], { alpha: 1, beta: 1, transB: 1 }),
  );
}

/**
 * `nn.Linear` on a 3-d input: MatMul on the folded `W.T`, then `Add(bias, ·)` with the bias
 * first, as the opset-9 `linear` symbolic calls `add(bias, output)`.
 */
export function linear(
  t: TorchScriptWriter,
  scope: string,
  x: Value,
  params: { weightT: Value; bias?: Value },
): Value {
  return t.in(scope, () => {
    const product = t.op("MatMul", [x, params.weightT]);
    return params.bias ? t.op("Add", [params.bias, product]) : product;
  });
}

/** `nn.SiLU`: x · sigmoid(x). */
export function silu(t: TorchScriptWriter, scope: string, x: Value): Value {
  return t.in(scope, () => t.op("Mul", [x, t.op("Sigmoid", [x])]));
}

/**
 * `nn.GroupNorm` as the opset-9 `group_norm` symbolic writes it below opset 18: x viewed as
 * [N, groups, -1], InstanceNormalization with unit scale and zero bias, the view undone with
 * `Shape(x)`, then the affine. The exporter folds `weight.unsqueeze([1, 2])` and
 * `bias.unsqueeze([1, 2])` into [C, 1, 1] initializers (`params`).
 */
export function groupNorm(
  t: TorchScriptWriter,
  scope: string,
  x: Value,
  params: Affine,
  groups: number,
  eps: number,
): Value {
  return t.in(scope, () => {
    const grouped = t.reshape(x, t.ints([0, groups, -1]));
    const ones = t.constant(
      Tensor.fromArray(DataType.FLOAT, [groups], new Float32Array(groups).fill(1)),
    );
    const zeros = t.constant(Tensor.fromArray(DataType.FLOAT, [groups], new Float32Array(groups)));
    const normalized = t.op("InstanceNormalization", [grouped, ones, zeros], { epsilon: eps });
    const restored = t.reshape(normalized, t.op("Shape", [x]));
    return t.op("Add", [t.op("Mul", [restored, params.weight]), params.bias]);
  });
}

/**
 * `nn.LayerNorm` over the last axis, decomposed as the opset-9 symbolic does below opset 17:
 * (x − mean) / √(var + eps) · weight + bias.
 */
export function layerNorm(
  t: TorchScriptWriter,
  scope: string,
  x: Value,
  params: Affine,
  eps: number,
): Value {
  return t.in(scope, () => {
    const mean = t.op("ReduceMean", [x], { axes: [-1] });
    const centered = t.op("Sub", [x, mean]);
    const variance = t.op("ReduceMean", [t.op("Pow", [centered, t.floatScalar(2)])], {
      axes: [-1],
    });
    const std = t.op("Sqrt", [t.op("Add", [variance, t.floatScalar(eps)])]);
    const normalized = t.op("Div", [centered, std]);
    return t.op("Add", [t.op("Mul", [normalized, params.weight]), params.bias]);
  });
}

/** `F.gelu` (exact): x · (1 + erf(x / √2)) · 0.5, the form onnxruntime's Gelu fusion matches. */
export function gelu(t: TorchScriptWriter, x: Value): Value {
  const erf = t.op("Erf", [t.op("Div", [x, t.floatScalar(Math.SQRT2)])]);
  const onePlus = t.op("Add", [erf, t.floatScalar(1)]);
  return t.op("Mul", [t.op("Mul", [x, onePlus]), t.floatScalar(0.5)]);
}

/**
 * `size // n` on a traced size (`aten::floor_divide`), through the opset-9 `_floor_divide`:
 * truncating Div plus a fix-up for negative operands. Constant folding turns `n < 0` into a
 * bool `Constant`; the scalar type analysis casts the bool fix-up mask to int64 for its Mul.
 */
export function floorDivide(t: TorchScriptWriter, size: Value, n: number): Value {
  const divisor = t.intScalar(n);
  const quotient = t.op("Div", [size, divisor]);
  const zero = t.intScalar(0);
  const negativeSize = t.op("Less", [size, zero]);
  const negativeDivisor = t.constant(Tensor.fromArray(DataType.BOOL, [], [n < 0 ? 1 : 0]));
  const negative = t.op("Xor", [negativeSize, negativeDivisor]);
  const remainder = t.op("Sub", [size, t.op("Mul", [quotient, divisor])]);
  const inexact = t.op("Not", [t.op("Equal", [remainder, zero])]);
  const fixupMask = t.op("And", [negative, inexact]);
  const one = t.intScalar(1);
  const fixup = t.op("Mul", [t.cast(fixupMask, DataType.INT64), one]);
  return t.op("Sub", [quotient, fixup]);
}

/**
 * `x.chunk(chunks, dim)`: the exporter canonicalises it to `prim::ConstantChunk`, whose opset-11
 * symbolic computes the chunk size from `Shape` and slices each piece.
 */
export function constantChunk(
  t: TorchScriptWriter,
  x: Value,
  chunks: number,
  dim: number,
): Value[] {
  const shape = t.op("Shape", [x]);
  const axis = t.ints([dim]);
  const length = t.op("Gather", [shape, axis], { axis: 0 });
  let start = t.ints([0]);
  const count = t.ints([chunks]);
  const shifted = t.op("Add", [length, t.ints([chunks - 1])]);
  const chunkLength = t.op("Div", [shifted, count]);
  const pieces: Value[] = [];
  for (let i = 0; i < chunks; i++) {
    const end = t.op("Mul", [chunkLength, t.ints([i + 1])]);
    pieces.push(t.op("Slice", [x, start, end, axis]));
    start = end;
  }
  return pieces;
}

/**
 * `F.interpolate(x, scale_factor=2.0, mode="nearest")`: Resize with the opset-13 empty `roi`
 * placeholder and `scales` [1, 1, 2, 2], which constant folding made a `Constant` from the
 * symbolic's `Concat(ones(2), [2, 2])`.
 */
export function upsampleNearest2x(t: TorchScriptWriter, x: Value): Value {
  const scales = t.constant(Tensor.fromArray(DataType.FLOAT, [4], [1, 1, 2, 2]));
  return t.op("Resize", [x, undefined as unknown as Value, scales], {
    coordinate_transformation_mode: "asymmetric",
    cubic_coeff_a: -0.75,
    mode: "nearest",
    nearest_mode: "floor",
  });
}

/**
 * A static slice `x[..., start:end]` on one axis (`aten::slice` with Python ints): the opset-10
 * `_slice` writes axes, starts, ends and steps as `Constant`s.
 */
export function staticSlice(
  t: TorchScriptWriter,
  x: Value,
  axis: number,
  start: number | bigint,
  end: number | bigint,
): Value {
  const axes = t.ints([axis]);
  const starts = t.ints([start]);
  const ends = t.ints([end]);
  return t.op("Slice", [x, starts, ends, axes, t.ints([1])]);
}
