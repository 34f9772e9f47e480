import {
  type ActivationGram,
  collectGrams,
  countRecords,
  type DataRecord,
  definePass,
  type Graph,
  layerHessian,
  type Model,
  NameScope,
  type Node,
  type PassContext,
  removeDeadCode,
  type Value,
} from "@lathe/core";
import { FUNCTION_BODIES_SKIPPED, type QuantStats, quantizeComponents } from "../common/select.js";
import { isComputedGather } from "../common/weights.js";
import { weightOnlyOptionsSchema } from "../generated/options.js";
import { CACHE_OUTPUT, createBitsResolver, findHeads, type WeightRole } from "./bits.js";
import { type BlockQuantConfig, type BlockQuantized, quantizeRtn } from "./block-quant.js";
import { generateTokenRecords } from "./calibration.js";
import {
  canShareWithGather,
  type EmitContext,
  emitDequantizeMatMul,
  emitGatherBlockQuantized,
  emitMatMulNBits,
  emitTiedGatherBlockQuantized,
  MS_DOMAIN,
  type StoredMatMulNBits,
  storeDequantized,
  storeMatMulNBits,
} from "./emit.js";
import { quantizeGptq } from "./gptq.js";
import { opset21Problem, raiseToOpset21 } from "./opset21.js";
import { type GptqOptions, gptqDefaults, type WeightOnlyOptions } from "./options.js";
import { measureSensitivity, type PlannedWeight } from "./sensitivity.js";
import { findCandidates, type MatMulTarget, weightRows } from "./targets.js";

/** `quantize/weight-only`: 4/8-bit block-wise weights (RTN or GPTQ) as MatMulNBits, or DequantizeLinear-21 + MatMul. */
export const weightOnlyPass = definePass<WeightOnlyOptions>({
  id: "quantize/weight-only",
  summary:
    "4/8-bit block-wise weights for MatMul/Gemm (MatMulNBits, or blocked DequantizeLinear + MatMul) and embeddings (GatherBlockQuantized), by RTN or GPTQ",
  options: weightOnlyOptionsSchema,
  introduces: [
    { domain: MS_DOMAIN, version: 1 },
    { domain: "", version: 21 },
  ],
  async run(bundle, ctx) {
    let gptqLayers = 0;
    const { stats, statistics } = await quantizeComponents(
      bundle,
      ctx.logger,
      async ({ component, model, graph }, s) => {
        gptqLayers += await quantizeGraph(model, graph, ctx, s, component);
      },
      {
        skipScope: (scope) =>
          FUNCTION_BODIES_SKIPPED(scope) ??
          (scope.kind !== "main" && ctx.options.algorithm === "gptq"
            ? "gptq calibrates on main-graph values only (ONNX Runtime returns no value computed inside a subgraph); use algorithm rtn for weights inside subgraphs"
            : undefined),
        candidate: (n) =>
          n.domain === "" &&
          (n.opType === "MatMul" || n.opType === "Gemm" || n.opType === "Gather") &&
          !isComputedGather(n),
      },
    );
    statistics.algorithm = ctx.options.algorithm;
    statistics.format = ctx.options.format;
    if (ctx.options.algorithm === "gptq") statistics["gptq-weights"] = gptqLayers;
    return { bundle, modified: stats.quantizedCount > 0, statistics };
  },
});

/**
 * Quantizes one graph of a component in place (the main graph, or an If/Loop/Scan body with rtn);
 * returns how many weights GPTQ quantized.
 */
async function quantizeGraph(
  model: Model,
  graph: Graph,
  ctx: PassContext<WeightOnlyOptions>,
  stats: QuantStats,
  component: string,
): Promise<number> {
  const options = ctx.options;
  const { matmuls, gathers, skipped } = findCandidates(graph, options);
  for (const s of skipped) stats.skip(s.node, s.reason);
  if (options.format === "portable" && matmuls.length > 0) {
    const problem = opset21Problem(model);
    if (problem) {
      ctx.logger.warn(`${component}: portable weight-only format skipped: ${problem}`);
      for (const t of matmuls) stats.skip(t.node, `portable format needs opset 21: ${problem}`);
      matmuls.length = 0;
    }
  }
  if (matmuls.length === 0 && gathers.length === 0) return 0;

  const bitsOf = createBitsResolver(options);
  const heads = findHeads(model, matmuls, gathers);
  const configFor = (node: Node, role: WeightRole): BlockQuantConfig => ({
    bits: bitsOf(node, role),
    blockSize: options.blockSize,
    symmetric: options.symmetric,
  });
  const configOf = (node: Node, role: WeightRole): BlockQuantConfig => {
    const config = configFor(node, role);
    const key = `weights at ${config.bits} bits`;
    stats.extra[key] = Number(stats.extra[key] ?? 0) + 1;
    return config;
  };
  if (options.sensitivity || ctx.explain) {
    const seen = new Set<string>();
    const planned: PlannedWeight[] = [];
    for (const t of matmuls) {
      if (seen.has(t.key)) continue;
      seen.add(t.key);
      const role = heads.has(t.node) ? "head" : "body";
      planned.push({ target: { kind: "matmul", t }, role, config: configFor(t.node, role) });
    }
    for (const t of gathers)
      planned.push({
        target: { kind: "gather", t },
        role: "embedding",
        config: configFor(t.node, "embedding"),
      });
    await reportSensitivity(model, planned, component, ctx, stats);
  }
  const gptq = gptqDefaults(options.gptq as Partial<GptqOptions>);
  // Targets reading the same float data share one quantized copy.
  const groups = new Map<string, MatMulTarget[]>();
  for (const t of matmuls) groups.set(t.key, [...(groups.get(t.key) ?? []), t]);

  const grams =
    options.algorithm === "gptq" && matmuls.length > 0
      ? await calibrate(model, matmuls, gptq, ctx)
      : undefined;

  const emit: EmitContext = {
    graph,
    namer: new NameScope(graph),
    accuracyLevel: options.accuracyLevel,
  };
  ctx.progress.start(
    groups.size + gathers.length,
    `${component}: weight-only ${options.algorithm}`,
  );
  let gptqCount = 0;
  // Tables an LM head quantized by rtn as they are stored ([N, K], alpha 1): a tied embedding
  // Gather would quantize the very same values, so it reads that copy.
  const tiedTables = new Map<Value, { q: BlockQuantized; stored: StoredMatMulNBits }>();
  for (const targets of groups.values()) {
    ctx.signal.throwIfAborted();
    const first = targets[0] as MatMulTarget;
    const config = configOf(first.node, heads.has(first.node) ? "head" : "body");
    const rows = weightRows(first);
    let q: BlockQuantized;
    const hessian = grams ? sharedHessian(targets, grams) : undefined;
    if (hessian) {
      q = quantizeGptq(rows, first.n, first.k, hessian, {
        ...config,
        dampPercent: gptq.dampPercent,
        actOrder: gptq.actOrder,
        lazyBlock: gptq.blockSize,
      });
      gptqCount++;
    } else {
      q = quantizeRtn(rows, first.n, first.k, config);
    }
    const stem = first.weight.source.name || first.node.name;
    if (options.format === "contrib") {
      const stored = storeMatMulNBits(q, stem, emit);
      for (const t of targets) emitMatMulNBits(t, q, stored, emit);
      if (!hessian && first.storedAsNK && first.alpha === 1 && canShareWithGather(q, stored))
        tiedTables.set(first.weight.source, { q, stored });
    } else {
      const stored = storeDequantized(q, stem, emit);
      for (const t of targets) emitDequantizeMatMul(t, q, stored, emit);
    }
    for (const t of targets) stats.quantize(t.node.opType);
    ctx.progress.advance(1, first.node.name);
  }
  for (const g of gathers) {
    ctx.signal.throwIfAborted();
    const tied = tiedTables.get(g.table);
    if (tied) {
      emitTiedGatherBlockQuantized(g, tied.q, tied.stored, emit);
    } else {
      const [tableRows, width] = g.tensor.dims as [number, number];
      const data = g.tensor.toArray() as Float32Array;
      const config = configOf(g.node, "embedding");
      emitGatherBlockQuantized(g, quantizeRtn(data, tableRows, width, config), emit);
    }
    stats.quantize("Gather");
    ctx.progress.advance(1, g.node.name);
  }
  removeDeadCode(graph);
  if (options.format === "portable" && matmuls.length > 0) raiseToOpset21(model);
  return gptqCount;
}

/** H = 2·ΣXᵀX / rows over every node reading the weight (a shared weight sees all their inputs). */
function sharedHessian(
  targets: readonly MatMulTarget[],
  grams: ReadonlyMap<Value, ActivationGram>,
): Float64Array | undefined {
  const found = targets.flatMap((t) => grams.get(t.input) ?? []);
  return layerHessian(found);
}

async function calibrate(
  model: Model,
  targets: readonly MatMulTarget[],
  gptq: GptqOptions,
  ctx: PassContext<WeightOnlyOptions>,
): Promise<Map<Value, ActivationGram>> {
  const activations = new Map<Value, number>();
  for (const t of targets) activations.set(t.input, t.k);
  const generated = gptq.calibration
    ? undefined
    : generateTokenRecords(model, gptq.samples, gptq.sequenceLength, ctx.random);
  const set = gptq.calibration ? ctx.data(gptq.calibration) : undefined;
  const records = generated ?? take(set!.records(), gptq.samples);
  // A data set with fewer records than `samples` would leave the progress short of its total.
  const total = set ? Math.min(gptq.samples, await countRecords(set)) : generated!.length;
  ctx.progress.start(total, "gptq calibration records");
  const grams = await collectGrams(model, activations, {
    sessions: ctx.sessions,
    records,
    signal: ctx.signal,
    onBatch: (n) => ctx.progress.advance(n),
  });
  ctx.logger.info(
    `gptq: calibrated ${activations.size} activations on ${gptq.calibration ? `data "${gptq.calibration}"` : "generated tokens"}`,
  );
  return grams;
}

/** `sensitivity:` statistics (and an explanation) from `measureSensitivity`. */
async function reportSensitivity(
  model: Model,
  planned: readonly PlannedWeight[],
  component: string,
  ctx: PassContext<WeightOnlyOptions>,
  stats: QuantStats,
): Promise<void> {
  const output = model.graph.outputs.find((v) => !CACHE_OUTPUT.test(v.name))?.name;
  if (!output) return;
  const gptq = gptqDefaults(ctx.options.gptq as Partial<GptqOptions>);
  const records: DataRecord[] = [];
  if (gptq.calibration) {
    for await (const r of take(ctx.data(gptq.calibration).records(), gptq.samples)) records.push(r);
  } else {
    records.push(...generateTokenRecords(model, gptq.samples, gptq.sequenceLength, ctx.random));
    stats.warnings.push(
      `${component}: sensitivity measured on generated tokens, not real data: name a data set with gptq.calibration for costs that mean something`,
    );
  }
  const costs = await measureSensitivity(model, planned, records, output, ctx.sessions, ctx.signal);
  for (const c of costs)
    stats.extra[`sensitivity: ${c.group} (rel. L2 of ${output})`] = round(c.relL2);
  const ranked = [...costs].sort((a, b) => b.relL2 - a.relL2);
  ctx.logger.info(
    `${component}: fidelity cost of each group quantized alone (relative L2 of ${output} on ${records.length} records): ${ranked
      .map((c) => `${c.group} ${round(c.relL2)} (${c.weights} weights)`)
      .join(", ")}`,
  );
}

function round(x: number): number {
  return Number(x.toPrecision(3));
}

async function* take(records: AsyncIterable<DataRecord>, count: number): AsyncIterable<DataRecord> {
  if (count <= 0) return;
  let n = 0;
  for await (const record of records) {
    yield record;
    if (++n >= count) return;
  }
}
