import {
  addConstant,
  DataType,
  definePass,
  type Graph,
  insertNode,
  type Model,
  NameScope,
  type Node,
  type NodeInit,
  removeDeadCode,
  replaceNode,
  Tensor,
  type Value,
} from "@lathe/core";
import { formProblem } from "../common/opset-forms.js";
import { onnxType, transpose2d, type WeightQuantOptions } from "../common/quant-math.js";
import {
  createNodeFilter,
  FUNCTION_BODIES_SKIPPED,
  type QuantStats,
  quantizeComponents,
} from "../common/select.js";
import { bytesOf, type StoredWeight, WeightCache } from "../common/weight-cache.js";
import {
  computedWeightReason,
  constantTensor,
  findConstantWeight,
  isComputedGather,
  weightData,
  weightProblem,
} from "../common/weights.js";
import { dynamicInt8OptionsSchema } from "../generated/options.js";
import type { DynamicInt8Options } from "./dynamic-int8-options.js";

const MS_DOMAIN = "com.microsoft";

/** `quantize/dynamic-int8`: int8 weights, activations quantized at run time. */
export const dynamicInt8Pass = definePass<DynamicInt8Options>({
  id: "quantize/dynamic-int8",
  summary:
    "int8 weights for MatMul/Gemm (run as DynamicQuantizeMatMul), embedding Gathers and, opt-in, Conv (ConvInteger); activations quantized at run time",
  options: dynamicInt8OptionsSchema,
  introduces: [{ domain: MS_DOMAIN, version: 1 }],
  async run(bundle, ctx) {
    const { stats, statistics } = await quantizeComponents(
      bundle,
      ctx.logger,
      ({ model, graph }, s) => quantizeGraph(model, graph, ctx.options, s),
      {
        skipScope: FUNCTION_BODIES_SKIPPED,
        candidate: (n) =>
          n.domain === "" &&
          ctx.options.opTypes.includes(n.opType as never) &&
          !isComputedGather(n),
      },
    );
    if (statistics["quantized.Conv"] && ctx.target.providers[0] === "cpu")
      ctx.logger.warn(
        "ConvInteger runs slower than float Conv on ONNX Runtime's CPU provider (zoo unet small: 2.36 s against 0.47 s): these Convs save size, not time; quantize/static-int8 runs Convs fast as QLinearConv",
      );
    return { bundle, modified: stats.quantizedCount > 0, statistics };
  },
});

/** Quantizes the main graph of one model in place (its subgraphs: `quantizeGraph` on each). */
export function quantizeModel(model: Model, options: DynamicInt8Options, stats: QuantStats): void {
  quantizeGraph(model, model.graph, options, stats);
}

/**
 * Quantizes one graph of a model in place: the main graph or an If/Loop/Scan body (whose weights
 * may sit in an enclosing graph; the quantized copies are stored in this one).
 */
export function quantizeGraph(
  model: Model,
  graph: Graph,
  options: DynamicInt8Options,
  stats: QuantStats,
): void {
  const namer = new NameScope(graph);
  const cache = new WeightCache(graph, namer);
  const selected = createNodeFilter({ ...options, opTypes: options.opTypes });
  // Gathers of computed data (shape arithmetic) are not embeddings: not candidates at all.
  const nodes = graph
    .nodes()
    .filter((n) => n.domain === "" && options.opTypes.includes(n.opType as never))
    .filter((n) => !isComputedGather(n));
  // MatMul/Gemm first: a Gather of a tied embedding then reuses the LM head's int8 copy.
  nodes.sort((a, b) => Number(a.opType === "Gather") - Number(b.opType === "Gather"));
  const rowScales = new Map<Value, Value>();
  // Below opset 11 there is no DynamicQuantizeLinear: MatMul/Gemm take the com.microsoft fused
  // op instead (valid at any opset), Conv has no other form.
  const noDynamicQuantize = formProblem(model, "dynamicQuantizeLinear");
  const format = noDynamicQuantize ? "contrib" : options.format;
  const ctx: EmitContext = {
    graph,
    namer,
    cache,
    options: { ...options, format },
    rowScales,
    noDynamicQuantize,
    noDequantize: formProblem(model, "qdq"),
  };
  for (const node of nodes) {
    const reason = selected(node);
    if (reason) {
      stats.skip(node, reason);
      continue;
    }
    const skip =
      node.opType === "Gather"
        ? quantizeGather(node, ctx)
        : node.opType === "Conv"
          ? quantizeConv(node, ctx)
          : quantizeMatMulLike(node, ctx);
    if (skip) stats.skip(node, skip);
    else stats.quantize(node.opType);
  }
  if (format !== options.format && (stats.quantized.get("MatMul") || stats.quantized.get("Gemm")))
    stats.extra["MatMul/Gemm form"] = `contrib DynamicQuantizeMatMul: ${noDynamicQuantize}`;
  if (format === "contrib" && !model.opsetImports.has(MS_DOMAIN) && stats.quantized.size > 0)
    model.opsetImports.set(MS_DOMAIN, 1);
  removeDeadCode(graph);
}

interface EmitContext {
  readonly graph: Graph;
  readonly namer: NameScope;
  readonly cache: WeightCache;
  readonly options: DynamicInt8Options;
  /** Per-row scales as [rows, 1] for gathered embeddings, by weight. */
  readonly rowScales: Map<Value, Value>;
  /** Why the model's opset has no DynamicQuantizeLinear (< 11), if it has none. */
  readonly noDynamicQuantize: string | undefined;
  /** Why the model's opset has no DequantizeLinear (< 10), if it has none. */
  readonly noDequantize: string | undefined;
}

function weightOptions(options: DynamicInt8Options, axis: number | undefined): WeightQuantOptions {
  return {
    kind: options.weightType,
    symmetric: options.symmetric,
    reduceRange: options.reduceRange,
    axis,
  };
}

/** MatMul(A, W) or Gemm(A, W, C) with a constant W; returns why not, or undefined when done. */
function quantizeMatMulLike(node: Node, ctx: EmitContext): string | undefined {
  const { graph, namer, cache, options } = ctx;
  const isGemm = node.opType === "Gemm";
  const a = node.inputs[0];
  const aProblem = activationProblem(a, "A");
  if (aProblem || !a) return aProblem;
  const weight = findConstantWeight(node.inputs[1]);
  const problem = weightProblem(weight, options.minElements, node.inputs[1]);
  if (problem || !weight) return problem;
  if (weight.tensor.dims.length !== 2) return `weight is ${weight.tensor.dims.length}-D, not 2-D`;
  let transposed = weight.transposed;
  let alpha = 1;
  let bias: Value | undefined;
  if (isGemm) {
    if (node.getInt("transA", 0) !== 0) return "Gemm with transA=1";
    if (node.getInt("transB", 0) !== 0) transposed = !transposed;
    alpha = node.getFloat("alpha", 1);
    const beta = node.getFloat("beta", 1);
    const c = node.inputs[2];
    if (c && beta !== 0) {
      const tensor = constantTensor(c);
      if (beta === 1) bias = c;
      else if (tensor?.dataType === DataType.FLOAT) {
        const scaled = Float32Array.from(tensor.toArray() as Float32Array, (v) => v * beta);
        bias = graph.addInitializer(
          Tensor.fromArray(DataType.FLOAT, tensor.dims, scaled),
          namer.name(`${c.name}_beta`),
        );
      } else return "Gemm with beta != 1 on a computed C";
    }
  }
  const [rows, cols] = weight.tensor.dims as [number, number];
  // Stored as the [K, N] matrix the product reads, per-channel along N (axis 1).
  const layout = `KN${transposed ? ":T" : ""}${alpha !== 1 ? `:alpha=${alpha}` : ""}`;
  const stored = cache.getOrAdd(
    weight.source,
    layout,
    weightOptions(options, options.perChannel ? 1 : undefined),
    () => {
      let data = weightData(weight.tensor);
      if (transposed) data = transpose2d(data, rows, cols);
      if (alpha !== 1) for (let i = 0; i < data.length; i++) data[i]! *= alpha;
      return { data, dims: transposed ? [cols, rows] : [rows, cols] };
    },
  );
  const out =
    options.format === "contrib"
      ? emitFused(node, a, stored, bias, ctx)
      : emitStandard(node, a, stored, bias, ctx);
  replaceNode(graph, node, out, namer, { takeName: true });
  return undefined;
}

/** Why a run-time activation cannot be quantized dynamically, or undefined. */
function activationProblem(a: Value | undefined, name: string): string | undefined {
  if (!a) return `missing input ${name}`;
  if (constantTensor(a)) return `input ${name} is a constant`;
  if (a.type?.kind === "tensor" && a.type.elemType !== DataType.FLOAT)
    return `input ${name} is not float32`;
  return undefined;
}

/**
 * Conv(X, W[, B]) with a constant W, as ORT's quantize_dynamic writes it:
 * DynamicQuantizeLinear → ConvInteger → Cast → Mul(x_scale · w_scale as [1, M, 1, …]) →
 * Add(B as [1, M, 1, …]). ORT's CPU ConvInteger takes one weight zero point, so per-channel
 * weights must be symmetric (every channel's zero point the same).
 */
function quantizeConv(node: Node, ctx: EmitContext): string | undefined {
  const { graph, namer, cache, options } = ctx;
  if (ctx.noDynamicQuantize) return ctx.noDynamicQuantize;
  const x = node.inputs[0];
  const xProblem = activationProblem(x, "X");
  if (xProblem || !x) return xProblem;
  const source = node.inputs[1];
  const tensor = constantTensor(source);
  if (!source || !tensor) return computedWeightReason(source);
  const problem = weightProblem(
    { source, tensor, transposed: false, via: undefined },
    options.minElements,
  );
  if (problem) return problem;
  if (tensor.dims.length < 3) return `weight is ${tensor.dims.length}-D, not a Conv kernel`;
  if (options.perChannel && !options.symmetric)
    return "ConvInteger on ORT's CPU takes one weight zero point: per-channel asymmetric weights are not supported (set symmetric: true or perChannel: false)";
  const biasInput = node.inputs[2];
  const biasTensor = constantTensor(biasInput);
  if (biasInput && biasTensor?.dataType !== DataType.FLOAT)
    return "Conv bias is computed at run time or not float32";
  const stored = cache.getOrAdd(
    source,
    "conv",
    weightOptions(options, options.perChannel ? 0 : undefined),
    () => ({ data: weightData(tensor), dims: tensor.dims }),
  );
  const channels = tensor.dims[0] ?? 0;
  // [1, M, 1, …]: broadcasts over the ConvInteger output [N, M, spatial…]
  const perChannel = [1, channels, ...tensor.dims.slice(2).map(() => 1)];
  const zero = stored.quantized.zeroPoints;
  const weightZero = addConstant(
    graph,
    namer,
    `${source.name || "weight"}_conv_zero_point`,
    Tensor.fromBytes(onnxType(options.weightType), [], bytesOf(zero.subarray(0, 1))),
  );
  const scales = stored.quantized.scales;
  const weightScale = addConstant(
    graph,
    namer,
    `${source.name || "weight"}_conv_scale`,
    Tensor.fromArray(DataType.FLOAT, scales.length > 1 ? perChannel : [], scales),
  );
  const at = opsBefore(graph, namer, node);
  const dql = at("DynamicQuantizeLinear", [x], {}, 3);
  const [xq, xScale, xZero] = dql.outputs as [Value, Value, Value];
  const conv = at(
    "ConvInteger",
    [xq, stored.values, xZero, weightZero],
    [...node.attributes.values()],
  ).output;
  const floats = at("Cast", [conv], { to: DataType.FLOAT }).output;
  let out = at("Mul", [floats, at("Mul", [xScale, weightScale]).output]).output;
  if (biasTensor) {
    const bias = addConstant(
      graph,
      namer,
      `${biasInput?.name || "bias"}_nchw`,
      Tensor.fromArray(DataType.FLOAT, perChannel, weightData(biasTensor)),
    );
    out = at("Add", [out, bias]).output;
  }
  replaceNode(graph, node, out, namer, { takeName: true });
  return undefined;
}

/** DynamicQuantizeLinear → MatMulInteger → Cast → Mul(·, Mul(a_scale, b_scale)) → Add(bias). */
function emitStandard(
  node: Node,
  a: Value,
  w: StoredWeight,
  bias: Value | undefined,
  { graph, namer }: EmitContext,
): Value {
  const at = opsBefore(graph, namer, node);
  const dql = at("DynamicQuantizeLinear", [a], {}, 3);
  const [aq, aScale, aZero] = dql.outputs as [Value, Value, Value];
  const mm = at("MatMulInteger", [aq, w.values, aZero, w.zeroPoint]).output;
  const cast = at("Cast", [mm], { to: DataType.FLOAT }).output;
  // The fusion reads A's scale from input 0 and B's from input 1 of this Mul.
  const scale = at("Mul", [aScale, w.scale]).output;
  const product = at("Mul", [cast, scale]).output;
  return bias ? at("Add", [product, bias]).output : product;
}

/** com.microsoft DynamicQuantizeMatMul(A, B, b_scale, b_zero_point, bias). */
function emitFused(
  node: Node,
  a: Value,
  w: StoredWeight,
  bias: Value | undefined,
  { graph, namer }: EmitContext,
): Value {
  // The op takes a 1-D bias of N; any other C stays an Add.
  const biasDims = constantTensor(bias)?.dims;
  const fusedBias = bias && biasDims?.length === 1 ? bias : undefined;
  const fused = insertNode(graph, namer, node, {
    opType: "DynamicQuantizeMatMul",
    domain: MS_DOMAIN,
    name: `${node.name}_DynamicQuantizeMatMul`,
    inputs: [a, w.values, w.scale, w.zeroPoint, ...(fusedBias ? [fusedBias] : [])],
  }).output;
  if (!bias || fusedBias) return fused;
  return insertNode(graph, namer, node, {
    opType: "Add",
    name: `${node.name}_Add`,
    inputs: [fused, bias],
  }).output;
}

/**
 * An embedding lookup Gather(table, ids) on an int8 table: the gathered rows are dequantized
 * (Cast, times their row's scale). A tied table already stored for the LM head as [K, V] int8
 * is gathered along axis 1 from that copy, so the table is stored once.
 */
function quantizeGather(node: Node, ctx: EmitContext): string | undefined {
  const { graph, namer, cache, options } = ctx;
  if (node.getInt("axis", 0) !== 0) return "Gather on an axis other than 0";
  const table = node.inputs[0];
  const ids = node.inputs[1];
  const tensor = constantTensor(table);
  if (!table || !ids || !tensor) return "table is computed at run time (not a constant)";
  const problem = weightProblem(
    { source: table, tensor, transposed: false, via: undefined },
    options.minElements,
  );
  if (problem) return problem;
  if (tensor.dims.length !== 2) return `table is ${tensor.dims.length}-D, not 2-D`;
  const op = opsBefore(graph, namer, node);
  const at = (opType: string, inputs: (Value | undefined)[], attributes = {}) =>
    op(opType, inputs, attributes).output;
  const tied = cache.get(table, "KN:T");
  if (tied && options.perChannel && tied.quantized.zeroPoints.every((z) => z === 0)) {
    // Rows of the table are columns of the LM head's [K, V] copy: gather them along axis 1 for
    // flattened ids, transpose to [n, K], scale, and give them the ids' shape plus K.
    const flat = at("Reshape", [ids, int64s(graph, namer, `${node.name}_flat_shape`, [-1])]);
    const columns = at("Gather", [tied.values, flat], { axis: 1 });
    const rows = at("Transpose", [columns], { perm: [1, 0] });
    const scaled = scaleRows(node, rows, table, tied, flat, ctx);
    const k = int64s(graph, namer, `${node.name}_row_size`, [tensor.dims[1] ?? 0]);
    const shape = at("Concat", [at("Shape", [ids]), k], { axis: 0 });
    replaceNode(graph, node, at("Reshape", [scaled, shape]), namer, { takeName: true });
    return undefined;
  }
  // One scale for the table is a DequantizeLinear; per-row scales are Cast and Mul (any opset).
  if (!options.perChannel && ctx.noDequantize) return ctx.noDequantize;
  const stored = cache.getOrAdd(
    table,
    "rows",
    { kind: "int8", symmetric: true, reduceRange: false, axis: options.perChannel ? 0 : undefined },
    () => ({ data: weightData(tensor), dims: tensor.dims }),
  );
  const rows = at("Gather", [stored.values, ids], { axis: 0 });
  if (!options.perChannel) {
    replaceNode(
      graph,
      node,
      at("DequantizeLinear", [rows, stored.scale, stored.zeroPoint]),
      namer,
      { takeName: true },
    );
    return undefined;
  }
  replaceNode(graph, node, scaleRows(node, rows, table, stored, ids, ctx), namer, {
    takeName: true,
  });
  return undefined;
}

/** Adds ops before `anchor`, named after it: `at("Cast", [x], { to })`. */
function opsBefore(graph: Graph, namer: NameScope, anchor: Node) {
  return (
    opType: string,
    inputs: (Value | undefined)[],
    attributes: NodeInit["attributes"] = {},
    outputs = 1,
  ): Node =>
    insertNode(graph, namer, anchor, {
      opType,
      name: `${anchor.name}_${opType}`,
      inputs,
      attributes,
      outputs,
    });
}

function int64s(graph: Graph, namer: NameScope, stem: string, values: number[]): Value {
  return graph.addInitializer(
    Tensor.fromArray(DataType.INT64, [values.length], values.map(BigInt)),
    namer.name(stem),
  );
}

/** Cast(rows) · Gather(scales as [V, 1], ids): each gathered row times its own scale. */
function scaleRows(
  node: Node,
  rows: Value,
  table: Value,
  stored: StoredWeight,
  ids: Value,
  { graph, namer, rowScales }: EmitContext,
): Value {
  let scales = rowScales.get(table);
  if (!scales) {
    const s = stored.quantized.scales;
    scales = graph.addInitializer(
      Tensor.fromArray(DataType.FLOAT, [s.length, 1], s),
      namer.name(`${table.name}_row_scale`),
    );
    rowScales.set(table, scales);
  }
  const at = opsBefore(graph, namer, node);
  const floats = at("Cast", [rows], { to: DataType.FLOAT }).output;
  const rowScale = at("Gather", [scales, ids], { axis: 0 }).output;
  return at("Mul", [floats, rowScale]).output;
}
