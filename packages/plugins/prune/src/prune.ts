import {
  type ActivationGram,
  attr,
  collectGrams,
  createNameFilter,
  DataType,
  errors,
  graphScopes,
  inlineFunctions,
  layerHessian,
  type Model,
  type ModelBundle,
  type NamePattern,
  type OnnxFunction,
  ortMatrixProducts,
  type PassContext,
  type PassStatistics,
  Tensor,
  type Value,
} from "@lathe/core";
import { activationNorms, calibrationRecords } from "./calibration.js";
import { type Layer, layerOf, PRUNABLE_OPS } from "./layers.js";
import { pruneSparseGpt, type SparseGptPattern } from "./sparsegpt.js";
import {
  applyMask,
  type Criterion,
  globalThreshold,
  nmMask,
  unstructuredMask,
  weightScores,
} from "./sparsity.js";

/** What both passes share: which layers, by which criterion, calibrated on what. */
export interface PruneCommonOptions {
  /**
   * magnitude: |W|; wanda: |W|·‖X‖, the input activation's norm per channel over calibration
   * data; sparsegpt: second-order (OBS) saliency w²/[H⁻¹]ᵢᵢ with the layer Hessian
   * H = 2XᵀX/n from calibration data, and the remaining weights updated to make up for the
   * pruned ones (MatMul and Gemm only).
   * @default "magnitude"
   */
  criterion: Criterion;
  /**
   * Op types whose constant weight is pruned.
   * @default ["MatMul", "Gemm"]
   */
  opTypes: ("MatMul" | "Gemm" | "Conv")[];
  /**
   * Patterns on node names (JavaScript regular expressions, searched anywhere in the name: a
   * plain name matches every name containing it; anchor with ^ and $, escape . ( [ with \ to
   * match them literally). When any are given, only matching nodes are pruned; empty: all.
   * @default []
   */
  include: NamePattern[];
  /**
   * Patterns on node names (JavaScript regular expressions, searched anywhere in the name).
   * Matching nodes keep their weights, also when include matches them.
   * @default []
   */
  exclude: NamePattern[];
  /**
   * Weights with fewer elements are left alone (biases, tiny projections).
   * @integer
   * @minimum 0
   * @default 1024
   */
  minElements: number;
  /** With wanda or sparsegpt: a recipe data set of the model's inputs; without it, inputs are generated. */
  data?: string;
  /**
   * With wanda or sparsegpt: calibration records read (or generated).
   * @integer
   * @minimum 1
   * @default 8
   */
  samples: number;
  /**
   * SparseGPT settings (criterion: sparsegpt).
   * @default {}
   */
  sparsegpt: SparseGptOptions;
}

/** SparseGPT settings. */
export interface SparseGptOptions {
  /**
   * Input columns whose mask is chosen together (then updated before the rest); the paper's 128.
   * @integer
   * @minimum 1
   * @default 128
   */
  blockSize: number;
  /**
   * Damping added to the Hessian diagonal, as a fraction of its mean.
   * @exclusiveMinimum 0
   * @default 0.01
   */
  dampPercent: number;
}

/** The SparseGPT sub-options with defaults, whatever the engine filled in. */
export function sparseGptDefaults(
  options: Partial<SparseGptOptions> | undefined,
): SparseGptOptions {
  return { blockSize: 128, dampPercent: 0.01, ...options };
}

export type Pattern =
  | { readonly kind: "unstructured"; readonly sparsity: number; readonly global: boolean }
  | { readonly kind: "n-m"; readonly n: number; readonly m: number };

/** Prunes every selected layer of every component; statistics per layer and per reason. */
export async function pruneBundle(
  bundle: ModelBundle,
  pattern: Pattern,
  context: PassContext<PruneCommonOptions>,
): Promise<{ bundle: ModelBundle; modified: boolean; statistics: PassStatistics }> {
  const options = context.options;
  const sparsegpt = options.criterion === "sparsegpt";
  if (sparsegpt && pattern.kind === "unstructured" && pattern.global)
    throw errors.passOptionsInvalid(
      context.passId,
      "`global: true` cannot be used with criterion sparsegpt: SparseGPT chooses its mask block by block while it updates the weights, so there is no score to compare across layers; use wanda or magnitude with global, or drop global",
    );
  const selected = createNameFilter(options);
  const stats = new Statistics();
  const components = new Map<string, Model>();
  let inlinedCalls = 0;
  for (const [name, model] of bundle.components) {
    // a function whose layers take their weight as a parameter (as module-per-function exports
    // write them) is inlined at its calls, as ONNX Runtime does on load: the weight is then the
    // caller's constant; weights stored inside a body are pruned there, once for every call
    const inlined = inlineFunctions(model, { select: weightsAsParameters });
    inlinedCalls += inlined.calls;
    for (const [fn, why] of inlined.refused) stats.skip(`function ${fn} not inlined: ${why}`);
    const layers: Layer[] = [];
    const seen = new Map<Value, string>();
    for (const scope of graphScopes(model)) {
      for (const node of scope.graph.nodes()) {
        if (!(PRUNABLE_OPS as readonly string[]).includes(node.opType)) continue;
        if (!options.opTypes.includes(node.opType as "MatMul")) {
          stats.skip(`${node.opType} not in opTypes`);
          continue;
        }
        const why = selected(node.name);
        if (why) {
          stats.skip(why);
          continue;
        }
        const layer = layerOf(node, scope);
        if (typeof layer === "string") {
          stats.skip(layer);
          continue;
        }
        if (layer.tensor.elementCount < options.minElements) {
          stats.skip(`weight has fewer than minElements (${options.minElements})`);
          continue;
        }
        const shared = seen.get(layer.weight);
        if (shared) {
          stats.skip("weight shared with a layer pruned already");
          continue;
        }
        if (pattern.kind === "n-m" && layer.inputs % pattern.m !== 0) {
          stats.skip(`input channels not a multiple of M = ${pattern.m}`);
          continue;
        }
        if (options.criterion !== "magnitude" && scope.kind !== "main") {
          stats.skip(
            `inside a subgraph or function: its activations cannot be observed for ${options.criterion}`,
          );
          continue;
        }
        if (sparsegpt && layer.spatial !== 1) {
          stats.skip(
            "sparsegpt prunes MatMul and Gemm weights (a Conv's Hessian is over its unfolded patches, not built)",
          );
          continue;
        }
        seen.set(layer.weight, node.name);
        layers.push(layer);
      }
    }
    if (sparsegpt) {
      await pruneSecondOrder(model, layers, pattern as SparseGptPattern, context, stats, name);
      components.set(name, model);
      continue;
    }
    const norms =
      options.criterion === "wanda" && layers.length > 0
        ? await activationNorms(model, activationsOf(layers), context)
        : undefined;
    const values = layers.map((l) => Float32Array.from(l.tensor.toArray() as Float32Array));
    const scores = layers.map((l, i) =>
      weightScores(
        l,
        values[i] as Float32Array,
        l.activation ? norms?.get(l.activation) : undefined,
      ),
    );
    const threshold =
      pattern.kind === "unstructured" && pattern.global
        ? globalThreshold(scores, pattern.sparsity)
        : undefined;
    layers.forEach((layer, i) => {
      const score = scores[i] as Float64Array;
      const keep =
        pattern.kind === "n-m"
          ? nmMask(layer, score, pattern.n, pattern.m)
          : threshold !== undefined
            ? Uint8Array.from(score, (s) => (s > threshold ? 1 : 0))
            : unstructuredMask(
                layer,
                score,
                pattern.sparsity,
                options.criterion === "wanda" ? "output" : "layer",
              );
      const { values: pruned, zeros } = applyMask(values[i] as Float32Array, keep);
      store(layer, pruned);
      stats.pruned(name, layer, zeros);
    });
    components.set(name, model);
  }
  return {
    bundle: { components, metadata: bundle.metadata },
    modified: stats.layers > 0,
    statistics: { ...stats.report(), "function-calls-inlined": inlinedCalls },
  };
}

/**
 * SparseGPT on every layer: the layer Hessians from one calibration run of the unpruned model
 * (every layer sees the original model's activations, as Wanda's norms here), then each
 * weight pruned and updated on its own.
 */
async function pruneSecondOrder(
  model: Model,
  layers: readonly Layer[],
  pattern: SparseGptPattern,
  context: PassContext<PruneCommonOptions>,
  stats: Statistics,
  component: string,
): Promise<void> {
  if (layers.length === 0) return;
  const settings = sparseGptDefaults(context.options.sparsegpt as Partial<SparseGptOptions>);
  const activations = new Map<Value, number>();
  for (const l of layers) if (l.activation) activations.set(l.activation, l.inputs);
  const records = await calibrationRecords(model, context);
  context.progress.start(records.length, "calibrating (layer Hessians)");
  const grams: Map<Value, ActivationGram> = await collectGrams(model, activations, {
    sessions: context.sessions,
    records,
    signal: context.signal,
    onBatch: (n) => context.progress.advance(n),
  });
  context.progress.start(layers.length, `${component}: sparsegpt`);
  const products = ortMatrixProducts();
  try {
    for (const layer of layers) await pruneLayer(layer);
  } finally {
    await products.close();
  }

  async function pruneLayer(layer: Layer): Promise<void> {
    context.signal.throwIfAborted();
    const gram = layer.activation ? grams.get(layer.activation) : undefined;
    const hessian = gram ? layerHessian([gram]) : undefined;
    if (!hessian) {
      stats.skip("no calibration rows reached the layer's input");
      return;
    }
    const rows = layer.outputs;
    const k = layer.inputs;
    const stored = layer.tensor.toArray() as Float32Array;
    const w = new Float32Array(rows * k);
    for (let o = 0; o < rows; o++)
      for (let i = 0; i < k; i++) w[o * k + i] = stored[layer.index(o, i, 0)] as number;
    const result = await pruneSparseGpt(w, rows, k, hessian, pattern, settings, products);
    const values = new Float32Array(stored.length);
    let zeros = 0;
    for (let o = 0; o < rows; o++)
      for (let i = 0; i < k; i++) {
        const v = result.values[o * k + i] as number;
        values[layer.index(o, i, 0)] = v;
        if (v === 0) zeros++;
      }
    store(layer, values);
    stats.pruned(component, layer, zeros);
    stats.error(component, layer, result.error);
    context.progress.advance(1, layer.node.name);
  }
}

/** Whether a function's body has a prunable layer whose weight is one of its parameters. */
function weightsAsParameters(fn: OnnxFunction): boolean {
  const parameters = new Set(fn.graph.inputs);
  for (const node of fn.graph.allNodes()) {
    const weight = node.inputs[1];
    if (
      (PRUNABLE_OPS as readonly string[]).includes(node.opType) &&
      weight &&
      parameters.has(weight)
    )
      return true;
  }
  return false;
}

/** Each distinct activation read by a pruned layer, with the axis of its channels. */
function activationsOf(layers: readonly Layer[]): Map<Value, number> {
  const out = new Map<Value, number>();
  for (const l of layers) if (l.activation) out.set(l.activation, l.activationAxis);
  return out;
}

/** The pruned weight replaces the stored one under the same name (initializer or Constant). */
function store(layer: Layer, values: Float32Array): void {
  const tensor = Tensor.fromArray(DataType.FLOAT, layer.tensor.dims, values, {
    name: layer.tensor.name,
  });
  if (layer.weight.constValue) {
    layer.weight.constValue = tensor;
    return;
  }
  const constant = layer.weight.producer();
  constant?.setAttribute(attr.tensor("value", tensor));
}

class Statistics {
  layers = 0;
  #zeros = 0;
  #elements = 0;
  readonly #skipped = new Map<string, number>();
  readonly #perLayer: [string, number][] = [];
  readonly #errors: [string, number][] = [];

  skip(reason: string): void {
    this.#skipped.set(reason, (this.#skipped.get(reason) ?? 0) + 1);
  }

  pruned(component: string, layer: Layer, zeros: number): void {
    this.layers++;
    this.#zeros += zeros;
    this.#elements += layer.tensor.elementCount;
    const where = layer.scope.kind === "main" ? "" : ` (${layer.scope.path})`;
    this.#perLayer.push([
      `${component}:${layer.node.name}${where}`,
      zeros / layer.tensor.elementCount,
    ]);
  }

  /** SparseGPT's output error increase of one layer (mean over calibration rows). */
  error(component: string, layer: Layer, error: number): void {
    this.#errors.push([`${component}:${layer.node.name}`, error]);
  }

  report(): PassStatistics {
    const stats: PassStatistics = {
      "layers-pruned": this.layers,
      sparsity: round(this.#elements ? this.#zeros / this.#elements : 0),
      "weights-zero": this.#zeros,
      "weights-in-pruned-layers": this.#elements,
    };
    for (const [reason, n] of this.#skipped) stats[`skipped: ${reason}`] = n;
    for (const [layer, s] of this.#perLayer) stats[`sparsity.${layer}`] = round(s);
    for (const [layer, e] of this.#errors) stats[`sparsegpt-error.${layer}`] = round(e);
    return stats;
  }
}

function round(x: number): number {
  return Number(x.toPrecision(4));
}
