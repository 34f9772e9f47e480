import {
  attr,
  createNameFilter,
  DataType,
  graphScopes,
  type Model,
  type ModelBundle,
  type NamePattern,
  type PassContext,
  type PassStatistics,
  Tensor,
  type Value,
} from "@lathe/core";
import { activationNorms } from "./calibration.js";
import { type Layer, layerOf, PRUNABLE_OPS } from "./layers.js";
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
   * magnitude: |W|; wanda: |W|·‖X‖, the input activation's norm per channel over calibration data.
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
  /** With wanda: a recipe data set of the model's inputs; without it, inputs are generated. */
  data?: string;
  /**
   * With wanda: calibration records read (or generated).
   * @integer
   * @minimum 1
   * @default 8
   */
  samples: number;
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
  const selected = createNameFilter(options);
  const stats = new Statistics();
  const components = new Map<string, Model>();
  for (const [name, model] of bundle.components) {
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
        if (options.criterion === "wanda" && scope.kind !== "main") {
          stats.skip("inside a subgraph or function: its activations cannot be observed for wanda");
          continue;
        }
        seen.set(layer.weight, node.name);
        layers.push(layer);
      }
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
    statistics: stats.report(),
  };
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

  report(): PassStatistics {
    const stats: PassStatistics = {
      "layers-pruned": this.layers,
      sparsity: round(this.#elements ? this.#zeros / this.#elements : 0),
      "weights-zero": this.#zeros,
      "weights-in-pruned-layers": this.#elements,
    };
    for (const [reason, n] of this.#skipped) stats[`skipped: ${reason}`] = n;
    for (const [layer, s] of this.#perLayer) stats[`sparsity.${layer}`] = round(s);
    return stats;
  }
}

function round(x: number): number {
  return Number(x.toPrecision(4));
}
