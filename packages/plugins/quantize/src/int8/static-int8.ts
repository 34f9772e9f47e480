import {
  addConstant,
  checkRecordFits,
  countRecords,
  type DataRecord,
  type DataSet,
  DataType,
  definePass,
  type Graph,
  type GraphScope,
  graphScopes,
  isLatheError,
  LatheError,
  type Model,
  NameScope,
  Node,
  type PassContext,
  removeDeadCode,
  type ScopeFilter,
  Tensor,
  type Value,
} from "@lathe/core";
import { fedInputs } from "../common/calibration-inputs.js";
import { FORM_OPSET, formProblem, raiseOpsetIfExact } from "../common/opset-forms.js";
import { onnxType, quantRange, scaleAndZeroPoint, transpose2d } from "../common/quant-math.js";
import { createNodeFilter, type QuantStats, quantizeComponents } from "../common/select.js";
import { type StoredWeight, WeightCache } from "../common/weight-cache.js";
import {
  constantTensor,
  findConstantWeight,
  weightData,
  weightProblem,
} from "../common/weights.js";
import { elementTypes, inferredElementTypes } from "../fp16/element-types.js";
import { staticInt8OptionsSchema } from "../generated/options.js";
import { calibrateRanges } from "./calibration.js";
import { generateCalibrationRecords } from "./calibration-inputs.js";
import {
  type CalibratedRange,
  COSTLY_CLIPPING,
  narrowedRanges,
  type TensorRange,
} from "./calibrators.js";
import {
  type ResolvedStaticInt8Options,
  resolveActivationType,
  type StaticInt8Options,
} from "./static-int8-options.js";

/** `quantize/static-int8`: QDQ around Conv/MatMul/Gemm with calibrated activation ranges. */
export const staticInt8Pass = definePass<StaticInt8Options>({
  id: "quantize/static-int8",
  summary:
    "int8 QDQ (QuantizeLinear/DequantizeLinear) around Conv, MatMul and Gemm, activation ranges calibrated on ORT (minmax, percentile, entropy)",
  options: staticInt8OptionsSchema,
  async run(bundle, context) {
    const options = resolveActivationType(context.options, context.target);
    if (context.options.activationType === "auto")
      context.logger.info(
        `activations: ${options.activationType}${options.activationSymmetric ? ", symmetric" : ""} (auto, for target ${context.target.providers[0] ?? "cpu"})`,
      );
    const ctx = { ...context, options };
    const { stats, statistics } = await quantizeComponents(
      bundle,
      ctx.logger,
      // One calibration per component covers the main graph and its If branches: the branch
      // scopes are quantized with their main graph, so their own visit has nothing left to do.
      ({ component, model, scope }, s) =>
        scope.kind === "main"
          ? quantizeStatic(component, model, ctx, s, bundle.components.size > 1)
          : undefined,
      {
        skipScope: uncalibratedScope,
        candidate: (n) => n.domain === "" && options.opTypes.includes(n.opType as never),
      },
    );
    return { bundle, modified: stats.quantizedCount > 0, statistics };
  },
});

/**
 * Why a graph's activations cannot be calibrated, or undefined: the main graph, If branches and
 * Loop/Scan bodies at any depth can (core's `exposeValues` carries their values out to the
 * calibration run; a body's per iteration), except an If branch inside a Loop or Scan body,
 * whose values are an empty placeholder in the iterations that do not take it and so cannot be
 * stacked. Function bodies left after inlining hold nothing to quantize.
 */
const uncalibratedScope: ScopeFilter = (scope) => {
  if (scope.kind === "main") return undefined;
  if (scope.kind === "function")
    return "function body (activation ranges are calibrated in the graph that calls it, once inlined)";
  const owner = scope.owner!;
  if (owner.domain !== "" || (!LOOPS.has(owner.opType) && owner.opType !== "If"))
    return `activation ranges inside subgraphs of ${owner.qualifiedOp} are not calibrated`;
  if (owner.opType === "If")
    for (let s = scope.parent; s; s = s.parent)
      if (s.owner && LOOPS.has(s.owner.opType))
        return `activation ranges inside an If branch within a ${s.owner.opType} body are not calibrated (the branch is not taken in every iteration)`;
  return undefined;
};

const LOOPS = new Set(["Loop", "Scan"]);

/** A node to quantize: its activation input, weight and the layout the weight is stored in. */
interface Candidate {
  readonly node: Node;
  /** The graph the node sits in: the main graph or an If branch. */
  readonly graph: Graph;
  readonly activation: Value;
  /** Input index of the weight. */
  readonly weightIndex: number;
  readonly source: Value;
  readonly layout: string;
  /** Channel axis of the stored weight (output channels). */
  readonly axis: number;
  readonly prepare: () => { data: Float32Array; dims: readonly number[] };
  /** A constant 1-D bias quantized to int32 (Conv B, Gemm C). */
  readonly bias: { index: number; tensor: Tensor } | undefined;
}

async function quantizeStatic(
  component: string,
  model: Model,
  ctx: PassContext<ResolvedStaticInt8Options>,
  stats: QuantStats,
  inBundle: boolean,
): Promise<void> {
  const { options } = ctx;
  const selected = createNodeFilter(options);
  const candidates: Candidate[] = [];
  const elementwise: ElementwiseCandidate[] = [];
  const known = inferredElementTypes(model);
  // the main graph and the If branches under it (the scopes this pass calibrates)
  const graphs = [...graphScopes(model, { functions: false })]
    .filter((scope) => !inUncalibrated(scope))
    .map((scope) => scope.graph);
  const types = new Map<Value, DataType>();
  for (const graph of graphs) {
    const graphTypes = elementTypes(graph, known);
    for (const [v, t] of graphTypes) types.set(v, t);
    for (const node of graph.nodes()) {
      if (node.domain !== "" || !options.opTypes.includes(node.opType as never)) continue;
      if (ELEMENTWISE.has(node.opType)) {
        // Shape arithmetic (int64 Add/Mul/Concat) is not a candidate at all.
        const e = describeElementwise(node, graph, graphTypes);
        if (!e) continue;
        const reason = selected(node);
        if (reason) stats.skip(node, reason);
        else elementwise.push(e);
        continue;
      }
      const reason = selected(node) ?? undefined;
      const candidate = reason ? undefined : describe(node, graph);
      if (reason || typeof candidate === "string")
        stats.skip(node, reason ?? (candidate as string));
      else if (candidate) candidates.push(candidate);
    }
  }
  if (candidates.length === 0 && elementwise.length === 0) return;
  // Q/DQ need opset 10 and per-channel scales 13: convert an older model first when exact.
  const needs = options.perChannel ? FORM_OPSET.perAxis : FORM_OPSET.qdq;
  const raised = options.convertOpset ? raiseOpsetIfExact(model, needs) : undefined;
  if (raised) {
    ctx.logger.info(`${component}: ${raised.note}`);
    stats.extra[`opset (${component})`] = raised.note;
  }
  const noQdq = formProblem(model, "qdq");
  if (noQdq) {
    ctx.logger.warn(`${component}: left in float: ${noQdq}`);
    for (const c of [...candidates, ...elementwise]) stats.skip(c.node, noQdq);
    return;
  }

  // A graph's outputs keep their float values: no pair after an op that writes one.
  const isOutput = (c: { node: Node; graph: Graph }) => c.graph.outputs.includes(c.node.output);
  const tensors = new Set<Value>();
  for (const c of candidates) {
    tensors.add(c.activation);
    if (!isOutput(c)) tensors.add(c.node.output);
  }
  for (const e of elementwise) {
    for (const v of e.activations) tensors.add(v);
    if (!isOutput(e)) tensors.add(e.node.output);
  }
  const data = await calibrationRecords(component, model, ctx, inBundle);
  if (!data) {
    for (const c of [...candidates, ...elementwise])
      stats.skip(c.node, "calibration data has none of this component's inputs");
    return;
  }
  if (data.generated) stats.warnings.push(generatedDataWarning(component, data.count));
  // Units: records run; the histogram calibrators read the data twice.
  const passes = options.calibrator === "minmax" ? 1 : 2;
  ctx.progress.start(
    data.count * passes,
    `calibrating ${component} (${tensors.size} tensors, ${options.calibrator})`,
  );
  const ranges = await calibrateRanges(model, [...tensors], {
    sessions: ctx.sessions,
    records: data.records,
    calibrator: options.calibrator,
    percentile: options.percentile,
    symmetric: options.activationSymmetric,
    guard: options.entropyGuard,
    batchSize: options.batchSize,
    signal: ctx.signal,
    onBatch: (n) => ctx.progress.advance(n),
    types,
  }).catch((error: unknown) => {
    throw calibrationRunFailed(component, model, data, error);
  });
  reportNarrowed(component, ranges, options.calibrator, stats, ctx);

  const namer = new NameScope(model);
  const noPerAxis = options.perChannel ? formProblem(model, "perAxis") : undefined;
  if (noPerAxis) ctx.logger.info(`${component}: one scale per weight: ${noPerAxis}`);
  const perChannel = options.perChannel && !noPerAxis;
  // Q/DQ nodes and quantized weights go into the graph of the node that reads them (ORT fuses
  // DQ→op→Q within one graph); a weight read from an enclosing graph is stored in the branch.
  const perGraph = new Map<Graph, { qdq: QdqInserter; cache: WeightCache }>();
  const editorsOf = (graph: Graph) => {
    let editors = perGraph.get(graph);
    if (!editors) {
      editors = {
        qdq: new QdqInserter(graph, namer, options, ranges),
        cache: new WeightCache(graph, namer),
      };
      perGraph.set(graph, editors);
    }
    return editors;
  };
  const noRange = (c: { graph: Graph }, what: string) => {
    const owner = c.graph.parent?.opType;
    if (!owner) return `no calibrated range for ${what}`;
    return owner === "If"
      ? `no calibrated range for ${what}: its If branch never ran on the calibration data`
      : `no calibrated range for ${what}: its ${owner} body ran no iteration on the calibration data`;
  };
  for (const c of candidates) {
    const { qdq, cache } = editorsOf(c.graph);
    const activation = qdq.pair(c.activation);
    if (!activation) {
      stats.skip(c.node, noRange(c, "its input"));
      continue;
    }
    const stored = cache.getOrAdd(
      c.source,
      c.layout,
      {
        kind: options.weightType,
        symmetric: true,
        reduceRange: options.reduceRange,
        axis: perChannel ? c.axis : undefined,
      },
      c.prepare,
    );
    c.node.setInput(0, activation.dq);
    c.node.setInput(c.weightIndex, qdq.weightDq(stored, c.axis));
    if (c.bias) c.node.setInput(c.bias.index, qdq.biasDq(c, activation.scale, stored));
    // Its output gets a pair too, read by everyone, so ORT can fold DQ→op→Q into one QLinear op.
    if (!isOutput(c)) qdq.redirectAll(c.node.output);
    stats.quantize(c.node.opType);
  }
  for (const e of elementwise) {
    const { qdq, cache } = editorsOf(e.graph);
    const pairs = e.activations.map((v) => qdq.pair(v));
    if (pairs.some((p) => !p)) {
      stats.skip(e.node, noRange(e, "an input"));
      continue;
    }
    // The inputs as they were before any rewrite: an earlier pair may already feed one.
    e.original.forEach((input, index) => {
      if (!input) return;
      const at = e.activations.indexOf(input);
      if (at >= 0) {
        e.node.setInput(index, pairs[at]!.dq);
        return;
      }
      // A constant operand is stored in the activation type, per tensor, so the op's
      // QLinear form (QLinearAdd, QLinearMul, QLinearConcat) reads two of a kind.
      const tensor = constantTensor(input)!;
      const stored = cache.getOrAdd(
        input,
        "activation",
        {
          kind: options.activationType,
          symmetric: options.activationSymmetric,
          reduceRange: false,
          axis: undefined,
        },
        () => ({ data: weightData(tensor), dims: tensor.dims }),
      );
      e.node.setInput(index, qdq.weightDq(stored, 0));
    });
    if (!isOutput(e)) qdq.redirectAll(e.node.output);
    stats.quantize(e.node.opType);
  }
  // the branches first: what they stop reading from the main graph (its float weights) goes too
  removeDeadCode(model.graph);
  for (const graph of perGraph.keys()) graph.sort();
  model.graph.sort();
}

/** True when the scope or one enclosing it is not calibrated (a Loop body, say). */
function inUncalibrated(scope: GraphScope): boolean {
  for (let s: GraphScope | undefined = scope; s; s = s.parent)
    if (uncalibratedScope(s)) return true;
  return false;
}

/** Ops ORT runs quantized between the weighted ones when their inputs and output are QDQ. */
const ELEMENTWISE = new Set(["Add", "Mul", "Concat"]);

interface ElementwiseCandidate {
  readonly node: Node;
  readonly graph: Graph;
  /** The computed float inputs (each gets a Q→DQ pair); the rest are float constants. */
  readonly activations: Value[];
  readonly original: readonly (Value | undefined)[];
}

/** An Add/Mul/Concat on float32 values, or undefined when it computes anything else. */
function describeElementwise(
  node: Node,
  graph: Graph,
  types: ReadonlyMap<Value, DataType>,
): ElementwiseCandidate | undefined {
  const activations: Value[] = [];
  for (const input of node.inputs) {
    if (!input || types.get(input) !== DataType.FLOAT) return undefined;
    if (!constantTensor(input) && !activations.includes(input)) activations.push(input);
  }
  if (activations.length === 0 || types.get(node.output) !== DataType.FLOAT) return undefined;
  return { node, graph, activations, original: [...node.inputs] };
}

/** Checks a node and says how its weight is read, or why it cannot be quantized. */
function describe(node: Node, graph: Graph): Candidate | string {
  const activation = node.inputs[0];
  if (!activation) return "missing input";
  if (constantTensor(activation)) return "input is a constant";
  if (activation.type?.kind === "tensor" && activation.type.elemType !== DataType.FLOAT)
    return "input is not float32";
  const weight = findConstantWeight(node.inputs[1]);
  const problem = weightProblem(weight, 0, node.inputs[1]);
  if (problem || !weight) return problem ?? "no weight";
  const dims = weight.tensor.dims;
  const biasOf = (index: number) => {
    const tensor = constantTensor(node.inputs[index]);
    return tensor && tensor.dataType === DataType.FLOAT && tensor.dims.length === 1
      ? { index, tensor }
      : undefined;
  };
  if (node.opType === "Conv") {
    if (weight.transposed) return "Conv weight read through a Transpose";
    if (dims.length < 3) return "Conv weight has fewer than 3 dims";
    return {
      node,
      graph,
      activation,
      weightIndex: 1,
      source: weight.source,
      layout: "conv",
      axis: 0,
      prepare: () => ({ data: weightData(weight.tensor), dims }),
      bias: biasOf(2),
    };
  }
  if (dims.length !== 2) return `weight is ${dims.length}-D, not 2-D`;
  let transposed = weight.transposed;
  let bias: Candidate["bias"];
  if (node.opType === "Gemm") {
    if (node.getInt("transA", 0) !== 0) return "Gemm with transA=1";
    if (node.getFloat("alpha", 1) !== 1) return "Gemm with alpha != 1";
    if (node.getInt("transB", 0) !== 0) transposed = !transposed;
    if (node.inputs[2]) {
      if (node.getFloat("beta", 1) !== 1) return "Gemm with beta != 1";
      bias = biasOf(2);
    }
  }
  const [rows, cols] = dims as [number, number];
  // A [K, N] weight with per-channel scales along N; a Gemm with transB reads [N, K] on axis 0.
  const gemmTransB = node.opType === "Gemm" && node.getInt("transB", 0) !== 0;
  const storeTransposed = gemmTransB ? weight.transposed : transposed;
  return {
    node,
    graph,
    activation,
    weightIndex: 1,
    source: weight.source,
    layout: storeTransposed ? "KN:T" : "KN",
    axis: gemmTransB ? 0 : 1,
    prepare: () => {
      const data = weightData(weight.tensor);
      return storeTransposed
        ? { data: transpose2d(data, rows, cols), dims: [cols, rows] }
        : { data, dims };
    },
    bias,
  };
}

/** A component's calibration records, how many there are, and whether they were generated. */
interface CalibrationData {
  /** Called once per pass over the data. */
  readonly records: () => AsyncIterable<DataRecord>;
  readonly count: number;
  readonly generated: boolean;
  /** The dims of generated records (`x [1, 16], mask [1, 16]`), for error messages. */
  readonly generatedDims?: string;
}

/** The calibration records of a component: the named data set, or generated ones. */
async function calibrationRecords(
  component: string,
  model: Model,
  ctx: PassContext<StaticInt8Options>,
  inBundle: boolean,
): Promise<CalibrationData | undefined> {
  const { options } = ctx;
  const fed = model.graph.inputs.filter((v) => !model.graph.initializers.has(v.name));
  const inputs = fed.map((v) => v.name);
  if (options.calibration) {
    const set = ctx.data(options.calibration);
    // Records may carry several components' inputs: each component reads its own.
    const pick = (record: DataRecord): DataRecord =>
      Object.fromEntries(inputs.filter((n) => record[n]).map((n) => [n, record[n]!]));
    const { first, count } = await firstAndCount(set);
    if (!first) return undefined;
    // In a bundle, a data set may be another component's (the UNet's, not the VAE's): skip this
    // one. Otherwise a record without the inputs, or with other dims, is the recipe's mistake.
    if (inBundle && !inputs.some((n) => first[n])) return undefined;
    checkRecordFits(
      first,
      fed.map((v) => {
        const type = v.type?.kind === "tensor" ? v.type : undefined;
        return { name: v.name, dataType: type?.elemType, dims: type?.shape?.dims };
      }),
      options.calibration,
    );
    return {
      records: async function* () {
        for await (const record of set.records()) yield pick(record);
      },
      count,
      generated: false,
    };
  }
  if (options.requireCalibration)
    throw new LatheError(
      "CALIBRATION_DATA_REQUIRED",
      `${component}: static quantization needs calibration data (requireCalibration is set) and the step names none`,
      {
        hint: "name a recipe data set with calibration: <name> (docs/data.md), or drop requireCalibration to calibrate on generated inputs",
      },
    );
  const generated = generateCalibrationRecords(
    model,
    options.calibrationSamples,
    ctx.random,
    // The recipe's target shapes, unless the step names its own.
    { ...ctx.target.shapes, ...options.inputShapes },
  );
  return {
    records: async function* () {
      yield* generated;
    },
    count: generated.length,
    generated: true,
    generatedDims: Object.entries(generated[0] ?? {})
      .map(([name, tensor]) => `${name} [${tensor.dims.join(", ")}]`)
      .join(", "),
  };
}

/**
 * ONNX Runtime refused a calibration run: on generated inputs, most often because a symbolic dim
 * got a size the model cannot take (Silero VAD's reflect padding needs more than the 16 samples
 * a symbolic `sequence` gets), so the error names the dims used and how to set them.
 */
function calibrationRunFailed(
  component: string,
  model: Model,
  data: CalibrationData,
  error: unknown,
): unknown {
  if (isLatheError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  const dimsOf = (v: Value) => (v.type?.kind === "tensor" ? (v.type.shape?.dims ?? []) : []);
  const declared = fedInputs(model)
    .map(
      (v) =>
        `${v.name} [${dimsOf(v)
          .map((d) => d ?? "?")
          .join(", ")}]`,
    )
    .join(", ");
  const what = data.generated
    ? `generated calibration inputs (${data.generatedDims}; the model declares ${declared})`
    : `named calibration data (the model declares ${declared})`;
  return new LatheError(
    "CALIBRATION_RUN_FAILED",
    `${component}: ONNX Runtime could not run the model on the ${what}: ${message}`,
    {
      hint: data.generated
        ? "name a calibration data set whose records the model accepts (calibration: <name>), or give the generated inputs' dims with inputShapes (input name → dims; symbolic dims otherwise get 1 for batch and 16)"
        : "check that the data set's records have the shapes and types the model's inputs take (lathe inspect lists them)",
      cause: error,
    },
  );
}

/**
 * Generated inputs (normal floats, uniform token ids) rarely look like what a trained model
 * reads, so ranges calibrated on them can clip or waste most of the real range: a recognizer
 * calibrated this way went from 0.02 to 0.47 character error rate.
 */
function generatedDataWarning(component: string, count: number): string {
  return `${component}: calibrated on ${count} generated inputs, not real data: activation ranges may not fit real inputs and task quality can drop sharply; name a data set (calibration: <name>), or set requireCalibration to make this an error`;
}

/** Statistics and a log line for tensors whose calibrated range is far narrower than min/max. */
function reportNarrowed(
  component: string,
  ranges: ReadonlyMap<Value, CalibratedRange>,
  calibrator: string,
  stats: QuantStats,
  ctx: PassContext<unknown>,
): void {
  if (calibrator === "minmax") return;
  const minmaxOnly = [...ranges].filter(([, r]) => r.noHistogram).map(([v]) => v.name);
  if (minmaxOnly.length > 0) {
    const key = "ranges from minmax inside Loop/Scan bodies (no histogram per iteration)";
    stats.extra[key] = Number(stats.extra[key] ?? 0) + minmaxOnly.length;
    ctx.logger.info(
      `${component}: ${minmaxOnly.length} tensor(s) inside Loop/Scan bodies take their min/max range (${calibrator} needs the tensor itself, which changes shape per iteration in general): ${minmaxOnly.slice(0, 5).join(", ")}${minmaxOnly.length > 5 ? ", …" : ""}`,
    );
  }
  const guarded = [...ranges].filter(([, r]) => r.guarded).map(([v]) => v.name);
  if (guarded.length > 0) {
    const key = "entropy thresholds raised by the squared-error guard";
    stats.extra[key] = Number(stats.extra[key] ?? 0) + guarded.length;
    ctx.logger.info(
      `${component}: the squared-error guard raised entropy's threshold on ${guarded.length} of ${ranges.size} tensors (KL would clip values that cost more than minmax's rounding): ${guarded.slice(0, 5).join(", ")}${guarded.length > 5 ? ", …" : ""}`,
    );
  }
  const costly = [...ranges]
    .filter(([, r]) => (r.errorRatio ?? 0) > COSTLY_CLIPPING)
    .sort(([, a], [, b]) => b.errorRatio! - a.errorRatio!);
  if (costly.length > 0) {
    const named = costly
      .slice(0, 5)
      .map(([v, r]) => `${v.name} (${r.errorRatio!.toPrecision(3)}×)`)
      .join(", ");
    stats.warnings.push(
      `${component}: ${calibrator} clipped ${costly.length} of ${ranges.size} tensors where clipping costs over ${COSTLY_CLIPPING}× the squared error of their min/max range: ${named}; the model may lose its task quality (a text-line recognizer read nothing): measure it on the task, or use minmax${calibrator === "entropy" ? " or entropyGuard: true" : ""}`,
    );
  }
  const narrowed = narrowedRanges(ranges);
  const key = "ranges narrower than 1/4 of minmax";
  stats.extra[key] = Number(stats.extra[key] ?? 0) + narrowed.length;
  if (narrowed.length === 0) return;
  const worst = narrowed
    .slice(0, 5)
    .map((n) => `${n.key.name} (${(n.ratio * 100).toFixed(1)} %)`)
    .join(", ");
  stats.extra[`narrowest ranges (${component})`] = worst;
  ctx.logger.info(
    `${component}: ${calibrator} kept under 1/4 of the min/max range on ${narrowed.length} of ${ranges.size} tensors; narrowest: ${worst}`,
  );
}

/** The first record (to check it fits) and how many there are, decoding as few as the source allows. */
async function firstAndCount(
  set: DataSet,
): Promise<{ first: DataRecord | undefined; count: number }> {
  let first: DataRecord | undefined;
  for await (const record of set.records()) {
    first = record;
    break;
  }
  return { first, count: first ? await countRecords(set) : 0 };
}

/** Adds Q→DQ pairs on activations and DQ nodes on weights and biases. */
class QdqInserter {
  readonly #pairs = new Map<Value, { dq: Value; scale: number }>();
  readonly #weightDqs = new Map<StoredWeight, Value>();

  constructor(
    private readonly graph: Graph,
    private readonly namer: NameScope,
    private readonly options: ResolvedStaticInt8Options,
    private readonly ranges: ReadonlyMap<Value, TensorRange>,
  ) {}

  /** One Q→DQ pair per tensor, shared by its readers (ORT duplicates DQs where it needs to). */
  pair(tensor: Value): { dq: Value; scale: number } | undefined {
    const found = this.#pairs.get(tensor);
    if (found) return found;
    const range = this.ranges.get(tensor);
    if (!range) return undefined;
    const kind = this.options.activationType;
    const { scale, zeroPoint } = scaleAndZeroPoint(
      range.min,
      range.max,
      quantRange(kind),
      this.options.activationSymmetric,
    );
    const stem = tensor.name || "activation";
    const s = addConstant(
      this.graph,
      this.namer,
      `${stem}_scale`,
      Tensor.fromArray(DataType.FLOAT, [], [scale]),
    );
    const z = addConstant(
      this.graph,
      this.namer,
      `${stem}_zero_point`,
      Tensor.fromArray(onnxType(kind), [], [zeroPoint]),
    );
    const q = this.#append("QuantizeLinear", `${stem}_QuantizeLinear`, [tensor, s, z]);
    const dq = this.#append("DequantizeLinear", `${stem}_DequantizeLinear`, [q, s, z]);
    const pair = { dq, scale: Math.fround(scale) };
    this.#pairs.set(tensor, pair);
    return pair;
  }

  /** Every reader of `tensor` (but its own QuantizeLinear) reads the dequantized value. */
  redirectAll(tensor: Value): void {
    const pair = this.pair(tensor);
    if (!pair) return;
    for (const { node, index } of [...tensor.uses()]) {
      if (node.opType === "QuantizeLinear" && node.output === pair.dq.producer()?.inputs[0])
        continue;
      node.setInput(index, pair.dq);
    }
  }

  weightDq(stored: StoredWeight, axis: number): Value {
    const found = this.#weightDqs.get(stored);
    if (found) return found;
    const perChannel = stored.quantized.axis !== undefined;
    const dq = this.#append(
      "DequantizeLinear",
      `${stored.values.name}_DequantizeLinear`,
      [stored.values, stored.scale, stored.zeroPoint],
      perChannel ? { axis } : {},
    );
    this.#weightDqs.set(stored, dq);
    return dq;
  }

  /**
   * Bias as int32 with scale = input scale × weight scale, zero point 0: one scale per channel
   * along axis 0 when the weight has them, else one scalar scale (no `axis`, which opset < 13
   * does not have).
   */
  biasDq(c: Candidate, inputScale: number, stored: StoredWeight): Value {
    const bias = c.bias!;
    const values = bias.tensor.toArray() as Float32Array;
    const weightScales = stored.quantized.scales;
    const perChannel = weightScales.length > 1;
    const scales = new Float32Array(perChannel ? values.length : 1);
    const ints = new Int32Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const s = Math.fround(inputScale * weightScales[perChannel ? i : 0]!);
      if (i < scales.length) scales[i] = s;
      ints[i] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(values[i]! / (s || 1))));
    }
    const stem = c.node.inputs[bias.index]?.name || "bias";
    const q = addConstant(
      this.graph,
      this.namer,
      `${stem}_quantized`,
      Tensor.fromArray(DataType.INT32, [values.length], ints),
    );
    const dims = perChannel ? [values.length] : [];
    const s = addConstant(
      this.graph,
      this.namer,
      `${stem}_scale`,
      Tensor.fromArray(DataType.FLOAT, dims, scales),
    );
    const z = addConstant(
      this.graph,
      this.namer,
      `${stem}_zero_point`,
      Tensor.fromArray(DataType.INT32, dims, new Int32Array(scales.length)),
    );
    return this.#append(
      "DequantizeLinear",
      `${stem}_DequantizeLinear`,
      [q, s, z],
      perChannel ? { axis: 0 } : {},
    );
  }

  #append(
    opType: string,
    stem: string,
    inputs: Value[],
    attributes: Record<string, unknown> = {},
  ): Value {
    const name = this.namer.name(stem);
    const node = new Node({
      opType,
      name,
      inputs,
      outputs: [this.namer.name(`${name}_output_0`)],
      attributes,
    });
    this.graph.append(node);
    return node.output;
  }
}
