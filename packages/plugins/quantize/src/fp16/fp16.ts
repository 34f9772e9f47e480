import {
  attr,
  constantBytes,
  type DataRecord,
  DataType,
  definePass,
  errors,
  GraphCoverage,
  type GraphScope,
  inlineFunctions,
  type Model,
  NameScope,
  Node,
  type PassContext,
  removeDeadCode,
  Tensor,
  type Value,
  visitGraphs,
} from "@lathe/core";
import { fp16OptionsSchema } from "../generated/options.js";
import { elementTypes, inferredElementTypes } from "./element-types.js";
import type { Fp16Options } from "./fp16-options.js";
import { mixedDefaults, planMixedPrecision } from "./mixed-precision.js";

const FP16_MAX = 65504;

/** Inputs that stay float32 whatever their node's type (float16.py ALWAYS_FLOAT_INPUTS). */
const ALWAYS_FLOAT_INPUTS: Readonly<Record<string, readonly number[]>> = {
  Resize: [2],
  GroupNorm: [1, 2],
  SkipGroupNorm: [1, 2],
};

/** Quantized graphs mix integer and float types by design; their ops are left as they are. */
const QUANTIZATION_OP = /Quantize|Integer|^QLinear|MatMulNBits|GatherBlockQuantized/;

export interface Fp16Stats {
  converted: number;
  blocked: Map<string, number>;
  casts: number;
  initializers: number;
  /** Float Constant nodes made float16. */
  constants: number;
  clamped: number;
}

/** `quantize/fp16`: float32 → float16 with Casts at the borders of what stays float32. */
export const fp16Pass = definePass<Fp16Options>({
  id: "quantize/fp16",
  summary:
    "float16 weights and activations, float32 I/O kept on request, ORT's op block list, Casts at the borders, clamped initializers",
  options: fp16OptionsSchema,
  async run(bundle, ctx) {
    const { options } = ctx;
    const mixed = mixedDefaults(options.mixed);
    const onCpu =
      options.target === "cpu" || (options.target === "auto" && ctx.target.providers[0] === "cpu");
    if (onCpu) {
      ctx.logger.warn(
        "quantize/fp16 for target cpu: ONNX Runtime's CPU provider has fp16 kernels for some ops only and runs the rest as fp32 behind Casts it inserts, so the file halves but the model is not faster there (zoo GPT-2 small prefill about 1.0× fp32's latency, zoo UNet small 1.08×); int8/int4 weights are the CPU formats (dynamic-int8 on GPT-2 small: 0.36×), fp16 is for cuda/webgpu/DirectML",
      );
    }
    const stats = emptyStats();
    let before = 0;
    let after = 0;
    const coverage = new GraphCoverage();
    let inlinedCalls = 0;
    const mixedStats: Record<string, number | string> = {};
    for (const [component, model] of bundle.components) {
      before += constantBytes(model);
      // a function's parameter types are known per call only: its calls are inlined first (as
      // ONNX Runtime does when it loads the model), so its body converts like the caller's nodes
      const inlined = inlineFunctions(model);
      inlinedCalls += inlined.calls;
      if (inlined.calls > 0)
        ctx.logger.info(`inlined ${inlined.calls} call(s) of ${inlined.functions.join(", ")}`);
      const keep = mixed.calibration
        ? await chooseFloatLayers(model, component, mixed, ctx, mixedStats)
        : undefined;
      coverage.add(convertModel(model, options, stats, inlined.refused, keep));
      after += constantBytes(model);
    }
    for (const [reason, n] of coverage.notVisited)
      ctx.logger.info(`${n} graph(s) not visited: ${reason}`);
    const statistics: Record<string, number | string> = {
      "nodes-converted": stats.converted,
      "casts-inserted": stats.casts,
      "initializers-converted": stats.initializers,
      "constants-converted": stats.constants,
      "values-clamped": stats.clamped,
    };
    for (const [reason, n] of stats.blocked) statistics[`kept-fp32: ${reason}`] = n;
    statistics["weight-bytes-before"] = before;
    statistics["weight-bytes-after"] = after;
    statistics["size-ratio"] = before > 0 ? Number((after / before).toFixed(4)) : 1;
    Object.assign(statistics, mixedStats);
    Object.assign(statistics, coverage.toStatistics());
    statistics["function-calls-inlined"] = inlinedCalls;
    return { bundle, modified: stats.converted > 0, statistics };
  },
});

/**
 * `mixed`: the layers to keep float32, measured on the named data set (mixed-precision.ts), with
 * what was measured in the statistics and the log.
 */
async function chooseFloatLayers(
  model: Model,
  component: string,
  mixed: ReturnType<typeof mixedDefaults>,
  ctx: PassContext<Fp16Options>,
  statistics: Record<string, number | string>,
): Promise<ReadonlySet<Node>> {
  const records: DataRecord[] = [];
  for await (const record of ctx.data(mixed.calibration!).records()) {
    records.push(record);
    if (records.length >= mixed.samples) break;
  }
  if (records.length === 0)
    throw errors.passOptionsInvalid(
      ctx.passId,
      `mixed.calibration names data set "${mixed.calibration}", which has no records: name one with records, or leave mixed.calibration out to convert every layer`,
    );
  const convertCopy = (copy: Model, keep: ReadonlySet<Node>) => {
    convertModel(copy, ctx.options, emptyStats(), new Map(), keep);
  };
  const plan = await planMixedPrecision(
    model,
    records,
    mixed.maxError,
    convertCopy,
    ctx.sessions,
    ctx.signal,
  );
  const prefix = component === "model" ? "" : `${component}: `;
  const round = (x: number) => Number(x.toPrecision(3));
  statistics[`${prefix}mixed: layers kept fp32`] = `${plan.kept.length} of ${plan.layers}`;
  statistics[`${prefix}mixed: error all fp16 (rel. L2 of ${plan.output})`] = round(
    plan.errorAllFp16,
  );
  statistics[`${prefix}mixed: error (rel. L2 of ${plan.output})`] = round(plan.error);
  statistics[`${prefix}mixed: models measured`] = plan.trials;
  const costliest = [...plan.costs].sort((a, b) => b.cost - a.cost).slice(0, 8);
  ctx.logger.info(
    `${component}: mixed precision on ${plan.records} records of "${mixed.calibration}": all fp16 ${round(plan.errorAllFp16)} relative L2 of ${plan.output}; ${plan.kept.length} of ${plan.layers} layers kept fp32 for ${round(plan.error)} (max ${mixed.maxError}); costliest layers converted alone: ${costliest
      .map((c) => `${c.layer} ${round(c.cost)}`)
      .join(", ")}`,
  );
  if (plan.kept.length === plan.layers)
    ctx.logger.warn(
      `${component}: mixed precision kept every layer float32: converting even the least sensitive ones costs more than mixed.maxError ${mixed.maxError} on "${mixed.calibration}" (all fp16: ${round(plan.errorAllFp16)})`,
    );
  return plan.keep;
}

function emptyStats(): Fp16Stats {
  return { converted: 0, blocked: new Map(), casts: 0, initializers: 0, constants: 0, clamped: 0 };
}

/**
 * Converts one model in place: the main graph, then every If/Loop/Scan body (a body keeps its
 * inputs' and outputs' types, which its owner node fixes, with Casts at its borders). Element
 * types come from core's shape inference; returns the graphs visited and those left alone.
 */
export function convertModel(
  model: Model,
  options: Fp16Options,
  stats: Fp16Stats,
  notInlined: ReadonlyMap<string, string> = new Map(),
  keepFloat: ReadonlySet<Node> = new Set(),
): GraphCoverage {
  // one element type per value, kept current as graphs are converted: a branch reads what its
  // enclosing graph became
  const known = inferredElementTypes(model);
  // float initializers an enclosing graph made float16 for the bodies that read them
  const halvedOuter = new Set<Value>();
  return visitGraphs(
    model,
    (scope) => convertGraph(scope, known, options, stats, keepFloat, halvedOuter),
    (scope) =>
      scope.kind === "function"
        ? notInlined.has(scope.function!.key)
          ? `function body not inlined: ${notInlined.get(scope.function!.key)}`
          : "function body (not called: its parameters' types are known per call only)"
        : undefined,
  );
}

/** Converts one graph; `known` holds every value's element type and is updated. */
function convertGraph(
  scope: GraphScope,
  known: Map<Value, DataType>,
  options: Fp16Options,
  stats: Fp16Stats,
  keepFloat: ReadonlySet<Node>,
  halvedOuter: Set<Value>,
): void {
  const graph = scope.graph;
  const inner = scope.kind !== "main";
  const types = elementTypes(graph, known);
  const isFloat = (v: Value | undefined) => v !== undefined && types.get(v) === DataType.FLOAT;
  const blockedOps = new Set(options.opBlockList);
  const blockedNames = new Set(options.nodeBlockList);
  /** Whether a node of a body inside this graph will be converted when its turn comes. */
  const willConvert = (node: Node) =>
    blockReason(node, blockedOps, blockedNames) === undefined && !keepFloat.has(node);
  const half = new Set<Node>();
  for (const node of graph) {
    const reason =
      blockReason(node, blockedOps, blockedNames) ??
      (keepFloat.has(node) ? "measured sensitive (mixed)" : undefined);
    const touchesFloat =
      node.inputs.some((v) => isFloat(v) || (v !== undefined && halvedOuter.has(v))) ||
      node.outputs.some(isFloat);
    if (reason) {
      if (touchesFloat) stats.blocked.set(reason, (stats.blocked.get(reason) ?? 0) + 1);
      continue;
    }
    // a float Constant is a weight: its type follows its readers' (below), like an initializer's
    if (isFloatConstant(node, isFloat)) continue;
    if (touchesFloat || node.opType === "Cast") half.add(node);
  }
  const keep = (v: Value) =>
    inner ||
    options.keepIoTypes === true ||
    (Array.isArray(options.keepIoTypes) && options.keepIoTypes.includes(v.name));
  /** The type a reader wants: float16 inside converted nodes, except inputs kept float. */
  const wanted = (node: Node, index: number) =>
    half.has(node) && !(ALWAYS_FLOAT_INPUTS[node.opType] ?? []).includes(index)
      ? DataType.FLOAT16
      : DataType.FLOAT;

  const namer = new NameScope(graph);
  placeConstants(graph, half, wanted, types, namer);

  // Nodes that make float values out of nothing now make float16.
  for (const node of half) {
    if (node.opType === "Cast" && node.getInt("to") === DataType.FLOAT) {
      if (isFloat(node.inputs[0])) {
        // float → float (PyTorch exports `.to(torch.float32)` so): as float16 → float16 it is
        // a Cast ONNX Runtime's CPU provider refuses to load beside ops it runs in float32.
        node.opType = "Identity";
        node.attributes.delete("to");
        node.attributes.delete("saturate");
      } else node.setAttribute(attr.int("to", DataType.FLOAT16));
    }
    if (["RandomNormal", "RandomUniform", "EyeLike", "RandomNormalLike"].includes(node.opType)) {
      if (node.getInt("dtype", DataType.FLOAT) === DataType.FLOAT)
        node.setAttribute(attr.int("dtype", DataType.FLOAT16));
    }
    if (node.opType === "Constant") {
      const tensor = floatConstantTensor(node);
      if (tensor) {
        for (const name of ["value", "value_float", "value_floats"]) node.attributes.delete(name);
        node.setAttribute(attr.tensor("value", toHalf(tensor, options.minPositive, stats)));
        stats.constants++;
      }
    } else {
      // ConstantOfShape's fill value
      const a = node.attribute("value");
      if (a && a.value instanceof Tensor && a.value.dataType === DataType.FLOAT)
        node.setAttribute(attr.tensor("value", toHalf(a.value, options.minPositive, stats)));
    }
  }

  const here = (node: Node) => node.graph === graph; // readers in subgraphs are their graph's business
  const casts = new Map<Value, Value>();
  const castOf = (value: Value, to: DataType, anchor?: Node) => {
    const found = casts.get(value);
    if (found) return found;
    const name = namer.name(
      `${value.name || "value"}_to_${to === DataType.FLOAT16 ? "fp16" : "fp32"}`,
    );
    const cast = new Node({
      opType: "Cast",
      name,
      inputs: [value],
      outputs: [namer.name(`${name}_output_0`)],
      attributes: { to },
    });
    if (anchor) graph.insertBefore(anchor, cast);
    else graph.append(cast);
    const shape = value.type?.kind === "tensor" ? value.type.shape : undefined;
    cast.output.type = { kind: "tensor", elemType: to, ...(shape ? { shape } : {}) };
    stats.casts++;
    casts.set(value, cast.output);
    return cast.output;
  };

  const homes = new Map<Value, DataType>();
  // Initializers: converted when only float16 readers read them, copied when both kinds do.
  for (const value of [...graph.initializers.values()]) {
    if (!isFloat(value) || !(value.constValue instanceof Tensor)) continue;
    // readers in If/Loop/Scan bodies count too (a branch's weights are often the enclosing
    // graph's initializers): a body converts after this graph, so whether its reader will be
    // float16 is decided here the way the body will decide it
    const all = value.uses();
    const halfUses = all.filter((u) =>
      here(u.node)
        ? wanted(u.node, u.index) === DataType.FLOAT16
        : willConvert(u.node) && !(ALWAYS_FLOAT_INPUTS[u.node.opType] ?? []).includes(u.index),
    );
    if (halfUses.length === 0) continue;
    const tensor = toHalf(value.constValue, options.minPositive, stats);
    stats.initializers++;
    const nested = halfUses.some((u) => !here(u.node));
    if (halfUses.length === all.length && !graph.outputs.includes(value)) {
      value.constValue = tensor;
      homes.set(value, DataType.FLOAT16);
      if (nested) halvedOuter.add(value);
    } else {
      const copy = graph.addInitializer(tensor, namer.name(`${value.name}_fp16`));
      tensor.name = copy.name;
      for (const u of halfUses) u.node.setInput(u.index, copy);
      if (nested) {
        halvedOuter.add(copy);
        known.set(copy, DataType.FLOAT16);
      }
    }
  }
  for (const input of graph.inputs) {
    if (!isFloat(input) || graph.initializers.has(input.name)) continue;
    homes.set(input, keep(input) ? DataType.FLOAT : DataType.FLOAT16);
  }
  // values of enclosing graphs read here keep the type their graph gave them
  if (inner) {
    for (const node of graph)
      for (const input of node.inputs) {
        if (!input || input.producer()?.graph === graph || homes.has(input)) continue;
        if (graph.inputs.includes(input) || graph.initializers.get(input.name) === input) continue;
        const t = known.get(input);
        if (t === DataType.FLOAT || t === DataType.FLOAT16) homes.set(input, t);
      }
  }
  for (const node of graph) {
    if (node.opType === "Cast" && half.has(node) && node.getInt("to") === DataType.FLOAT16) {
      homes.set(node.output, DataType.FLOAT16);
      continue;
    }
    for (const out of node.outputs) {
      if (isFloat(out)) homes.set(out, half.has(node) ? DataType.FLOAT16 : DataType.FLOAT);
    }
  }

  // Readers that want the other type read a Cast (one per value).
  for (const [value, home] of homes) {
    for (const { node, index } of value.uses().filter((u) => here(u.node))) {
      if (casts.has(value) && node === casts.get(value)?.producer()) continue;
      if (node.opType === "Cast" && node.inputs[0] === value && half.has(node)) continue; // Cast reads any type
      const want = wanted(node, index);
      if (want !== home) node.setInput(index, castOf(value, want, node));
    }
    if (value.type?.kind === "tensor" && home === DataType.FLOAT16)
      value.type = { ...value.type, elemType: DataType.FLOAT16 };
    if (value.producer()?.graph === graph || !inner) known.set(value, home);
  }
  // Graph outputs kept float32 get a Cast that takes over their name.
  graph.outputs.forEach((out, i) => {
    if (homes.get(out) !== DataType.FLOAT16 || !keep(out)) return;
    const name = out.name;
    out.name = namer.name(`${name}_fp16`);
    const cast = castOf(out, DataType.FLOAT);
    cast.name = name;
    graph.outputs[i] = cast;
  });
  for (const c of casts.values())
    known.set(c, c.type?.kind === "tensor" ? c.type.elemType : DataType.FLOAT);
  stats.converted += [...half].filter((n) => n.graph === graph).length;
  graph.sort();
  removeDeadCode(graph);
}

/** The float32 tensor a Constant node makes (`value`, `value_float` or `value_floats`). */
function floatConstantTensor(node: Node): Tensor | undefined {
  const value = node.attribute("value")?.value;
  if (value instanceof Tensor) return value.dataType === DataType.FLOAT ? value : undefined;
  const one = node.attribute("value_float")?.value;
  if (typeof one === "number") return Tensor.fromArray(DataType.FLOAT, [], [one]);
  const many = node.attribute("value_floats")?.value;
  if (Array.isArray(many)) return Tensor.fromArray(DataType.FLOAT, [many.length], many as number[]);
  return undefined;
}

function isFloatConstant(node: Node, isFloat: (v: Value | undefined) => boolean): boolean {
  return (
    node.opType === "Constant" && isFloat(node.output) && floatConstantTensor(node) !== undefined
  );
}

/**
 * A float Constant node (exporters at opsets < 11 write every weight so) converts as an
 * initializer does: to float16 when only float16 readers read it, left float32 when none does
 * (a block-listed node reads its exact weight, not a float16 rounding of it behind a Cast), and
 * copied when both kinds do. Readers in subgraphs and graph outputs count as float32 readers.
 */
function placeConstants(
  graph: GraphScope["graph"],
  half: Set<Node>,
  wanted: (node: Node, index: number) => DataType,
  types: Map<Value, DataType>,
  namer: NameScope,
): void {
  const isFloat = (v: Value | undefined) => v !== undefined && types.get(v) === DataType.FLOAT;
  for (const node of [...graph]) {
    if (!isFloatConstant(node, isFloat)) continue;
    const value = node.output;
    const uses = value.uses();
    const halfUses = uses.filter(
      (u) => u.node.graph === graph && wanted(u.node, u.index) === DataType.FLOAT16,
    );
    if (halfUses.length === 0) continue;
    if (halfUses.length === uses.length && !graph.outputs.includes(value)) {
      half.add(node);
      continue;
    }
    const copy = new Node({
      opType: "Constant",
      name: namer.name(`${node.name || value.name}_fp16`),
      outputs: [namer.name(`${value.name}_fp16`)],
      attributes: [...node.attributes.values()],
    });
    graph.insertAfter(node, copy);
    if (value.type) copy.output.type = value.type;
    types.set(copy.output, DataType.FLOAT);
    for (const u of halfUses) u.node.setInput(u.index, copy.output);
    half.add(copy);
  }
}

function blockReason(node: Node, ops: Set<string>, names: Set<string>): string | undefined {
  if (node.domain === "ai.onnx.ml") return "ai.onnx.ml op";
  if (ops.has(node.opType)) return `${node.opType} in opBlockList`;
  if (names.has(node.name)) return "node in nodeBlockList";
  if (node.subgraphs().length > 0) return "node with subgraphs";
  if (QUANTIZATION_OP.test(node.opType)) return "quantization op";
  if (node.domain !== "" && node.domain !== "com.microsoft") return `op of domain ${node.domain}`;
  return undefined;
}

/** A float16 copy of a float32 tensor, magnitudes clamped into float16's range. */
function toHalf(tensor: Tensor, minPositive: number, stats: Fp16Stats): Tensor {
  const values = Float32Array.from(tensor.toArray() as Float32Array);
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    const a = Math.abs(x);
    if (a > FP16_MAX && Number.isFinite(a)) {
      values[i] = Math.sign(x) * FP16_MAX;
      stats.clamped++;
    } else if (a > 0 && a < minPositive) {
      values[i] = Math.sign(x) * minPositive;
      stats.clamped++;
    }
  }
  return Tensor.fromArray(DataType.FLOAT16, tensor.dims, values, { name: tensor.name });
}
