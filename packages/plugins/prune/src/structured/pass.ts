import {
  constantOf,
  createNameFilter,
  definePass,
  inferShapes,
  inlineFunctions,
  type Model,
  type NamePattern,
  NameScope,
  type OnnxFunction,
  type PassContext,
  type PassStatistics,
  type Value,
} from "@lathe/core";
import { structuredOptionsSchema } from "../generated/options.js";
import { type ChannelStatistics, collectStatistics } from "./activations.js";
import { applyRemoval } from "./apply.js";
import { dropLayers } from "./layers.js";
import { refitConsumers } from "./refit.js";
import { type Edits, planShapeRepairs } from "./repair.js";
import {
  globalRemoval,
  keptCount,
  lowest,
  type StructuredCriterion,
  unitScores,
  unitWidth,
} from "./select.js";
import {
  type ConstantSlot,
  type Removal,
  type TrackedAxis,
  traceGroup,
  type UnitGroup,
} from "./trace.js";

/** Options of `prune/structured`. */
export interface StructuredOptions {
  /**
   * Share of each attention block's heads removed (under grouped-query attention a unit is one
   * key/value head with its group of query heads).
   * @minimum 0
   * @exclusiveMaximum 1
   * @default 0
   */
  heads: number;
  /**
   * Share of each MLP's intermediate channels removed (GPT-2 c_fc/c_proj, LLaMA gate/up/down,
   * GEGLU halves together).
   * @minimum 0
   * @exclusiveMaximum 1
   * @default 0
   */
  channels: number;
  /**
   * Transformer blocks removed whole (the ones whose output differs least from their input
   * on the calibration data, ShortGPT's block influence): a cheap draft model.
   * @integer
   * @minimum 0
   * @default 0
   */
  layers: number;
  /**
   * magnitude: ‖weights‖ of the unit; wanda: Σ‖X_p‖·|W_p| over the rows that read it; flap: Σ
   * Var(X_p)·‖W_p‖² (the fluctuation metric). wanda and flap calibrate.
   * @default "magnitude"
   */
  criterion: StructuredCriterion;
  /**
   * One ratio over all blocks (scores normalized per block) instead of the same share of every
   * block: blocks with many unimportant units lose more.
   * @default false
   */
  global: boolean;
  /**
   * The kept width of every pruned layer is rounded to a multiple of this (kernels run fastest
   * on multiples of 8).
   * @integer
   * @minimum 1
   * @default 8
   */
  multipleOf: number;
  /**
   * Refit the layer that reads the pruned units on calibration activations (ridge least squares,
   * closed form) so its output matches the original's, the removed units' mean contribution
   * going into its bias; the per-layer error before and after is reported.
   * @default false
   */
  reconstruct: boolean;
  /**
   * The ridge λ of the refit, relative to the mean variance of the kept channels.
   * @minimum 0
   * @default 0.01
   */
  ridge: number;
  /**
   * Patterns on the names of the layers that produce the units (JavaScript regular expressions,
   * searched anywhere in the name); a group is pruned when all its producing layers are
   * selected (q, k and v of a head together); empty: all.
   * @default []
   */
  include: NamePattern[];
  /**
   * Patterns on the names of the producing layers left alone.
   * @default []
   */
  exclude: NamePattern[];
  /** A recipe data set of the model's inputs (wanda, flap, reconstruct, layers); without it, inputs are generated. */
  data?: string;
  /**
   * Calibration records read (or generated).
   * @integer
   * @minimum 1
   * @default 8
   */
  samples: number;
}

export const structuredPass = definePass<StructuredOptions>({
  id: "prune/structured",
  summary:
    "Removes whole attention heads, MLP channels or transformer blocks, shrinking the tensors: smaller and faster on any provider.",
  description:
    "Traces the units each MatMul/Gemm produces through the graph (reshapes into heads, transposes, fused QKV splits, GEGLU halves, repeat_kv, fused MultiHeadAttention/GroupQueryAttention) to the layer that reads them back, removes the least important ones (magnitude, wanda, flap) from every coupled weight and bias, rewrites the shape constants and num_heads attributes that count them, and optionally refits the reading layer on calibration data. What it cannot prove safe is skipped with the reason.",
  options: structuredOptionsSchema,
  async run(bundle, context) {
    const statistics = new Statistics();
    let modified = false;
    const components = new Map<string, Model>();
    let inlinedCalls = 0;
    for (const [name, model] of bundle.components) {
      // the units are traced through the main graph: functions holding MatMul/Gemm layers are
      // inlined at their calls first (as ONNX Runtime does on load); one that cannot be is skipped
      const inlined = inlineFunctions(model, { select: holdsLayers });
      inlinedCalls += inlined.calls;
      for (const [fn, why] of inlined.refused)
        statistics.skip(`function ${fn} not inlined: ${why}`, `${name}:${fn}`);
      if (await pruneModel(model, name, context, statistics)) modified = true;
      components.set(name, model);
    }
    return {
      bundle: { components, metadata: bundle.metadata },
      modified,
      statistics: { ...statistics.report(), "function-calls-inlined": inlinedCalls },
    };
  },
});

function holdsLayers(fn: OnnxFunction): boolean {
  for (const node of fn.graph.allNodes())
    if (node.domain === "" && (node.opType === "MatMul" || node.opType === "Gemm")) return true;
  return false;
}

interface Planned {
  group: UnitGroup;
  name: string;
  removed: number[];
  removal: Removal;
  edits: Edits;
}

async function pruneModel(
  model: Model,
  component: string,
  context: PassContext<StructuredOptions>,
  stats: Statistics,
): Promise<boolean> {
  const options = context.options;
  let modified = false;
  // types as the model declares them: put back when nothing is removed, so the output is the input
  const declared = new Map<Value, Value["type"]>();
  for (const node of model.graph.nodes())
    for (const out of node.outputs) declared.set(out, out.type);
  inferShapes(model);
  if (options.layers > 0) {
    const dropped = await dropLayers(model, options.layers, context);
    stats.layers(component, dropped);
    modified ||= dropped.removed.length > 0;
  }
  if (options.heads === 0 && options.channels === 0 && !options.reconstruct && options.layers > 0)
    return modified;
  if (modified) inferShapes(model);
  const graph = model.graph;
  const selected = createNameFilter(options);
  const covered = new Set<object>();
  const groups: { group: UnitGroup; name: string }[] = [];
  for (const node of graph.nodes()) {
    if (node.domain !== "" || (node.opType !== "MatMul" && node.opType !== "Gemm")) continue;
    if (!constantOf(node.inputs[1]) || covered.has(node)) continue;
    stats.candidate();
    const group = traceGroup(node, graph);
    if (typeof group === "string") {
      if (selected(node.name)) stats.skip("not selected by include/exclude");
      else stats.skip(group, `${component}:${node.name}`);
      context.logger.debug(`prune/structured: ${node.name}: ${group}`);
      continue;
    }
    const producers = group.constants.filter((slot) => slot.role === "producer");
    for (const slot of producers) covered.add(slot.node);
    // a group is pruned when all its producing layers are selected (q, k and v of a head together)
    if (producers.some((slot) => selected(slot.node.name))) {
      stats.skip("not selected by include/exclude");
      continue;
    }
    groups.push({ group, name: `${component}:${node.name}` });
  }

  const calibrate = options.criterion !== "magnitude" || options.reconstruct;
  const slotStats = new Map<ConstantSlot, ChannelStatistics>();
  if (calibrate && groups.length > 0) {
    const wanted = new Map<Value, number>();
    for (const { group } of groups)
      for (const slot of group.constants)
        if (slot.role === "consumer" && slot.node.inputs[0])
          wanted.set(slot.node.inputs[0], slot.tracked.size);
    const collected = await collectStatistics(model, wanted, options.reconstruct, context);
    for (const { group } of groups)
      for (const slot of group.constants) {
        const s =
          slot.role === "consumer" && slot.node.inputs[0]
            ? collected.get(slot.node.inputs[0])
            : undefined;
        if (s) slotStats.set(slot, s);
      }
  }

  const choices = chooseRemovals(groups, slotStats, options);
  const planned: Planned[] = [];
  groups.forEach(({ group, name }, i) => {
    const removed = choices[i] as number[];
    const removal = removalOf(group, removed);
    const edits = planShapeRepairs(group, removal);
    if (typeof edits === "string") {
      stats.skip(edits, name);
      return;
    }
    planned.push({ group, name, removed, removal, edits });
  });

  const names = new NameScope(graph);
  for (const plan of planned) {
    stats.group(plan.name, plan.group, plan.removed.length);
    // nothing removed: the model stays as it is, byte for byte
    if (plan.removed.length === 0) continue;
    modified = true;
    const replaced = options.reconstruct
      ? refitConsumers(
          graph,
          names,
          plan.group,
          plan.removal,
          slotStats,
          options.ridge,
          (consumer, before, after) => stats.error(`${component}:${consumer}`, before, after),
        )
      : new Map();
    applyRemoval(graph, plan.group, plan.removal, plan.edits, names, replaced);
  }
  if (!modified) {
    for (const [value, type] of declared) value.type = type;
    return false;
  }
  graph.sort();
  const report = inferShapes(model);
  if (report.failures.length > 0 || report.conflicts.length > 0)
    throw new Error(
      `prune/structured left shapes that do not infer (a bug: please report it with the model): ${[...report.failures, ...report.conflicts][0]}`,
    );
  return modified;
}

function chooseRemovals(
  groups: readonly { group: UnitGroup }[],
  slotStats: ReadonlyMap<ConstantSlot, ChannelStatistics>,
  options: StructuredOptions,
): number[][] {
  const scores = groups.map(({ group }) => unitScores(group, options.criterion, slotStats));
  const ratioOf = (group: UnitGroup) => (group.attention ? options.heads : options.channels);
  const out: number[][] = groups.map(() => []);
  if (options.global) {
    for (const attention of [true, false]) {
      const members = groups
        .map((g, i) => ({ g, i }))
        .filter(({ g }) => g.group.attention === attention);
      const ratio = attention ? options.heads : options.channels;
      const removed = globalRemoval(
        members.map(({ g, i }) => ({
          scores: scores[i] as Float64Array,
          width: unitWidth(g.group),
        })),
        ratio,
        options.multipleOf,
      );
      members.forEach(({ i }, k) => {
        out[i] = removed[k] as number[];
      });
    }
    return out;
  }
  return groups.map(({ group }, i) => {
    const kept = keptCount(group.units, ratioOf(group), unitWidth(group), options.multipleOf);
    return lowest(scores[i] as Float64Array, group.units - kept);
  });
}

function removalOf(group: UnitGroup, removedUnits: readonly number[]): Removal {
  const removed = new Uint8Array(group.units);
  for (const u of removedUnits) removed[u] = 1;
  const sizes = new Map<TrackedAxis, number>();
  const kept = (t: TrackedAxis, p: number) => !removed[group.unitOf[t.base + p] as number];
  return {
    kept,
    size(t) {
      let n = sizes.get(t);
      if (n === undefined) {
        n = 0;
        for (let p = 0; p < t.size; p++) if (kept(t, p)) n++;
        sizes.set(t, n);
      }
      return n;
    },
  };
}

class Statistics {
  #candidates = 0;
  #traced = 0;
  #groups = 0;
  #headUnits = 0;
  #headsRemoved = 0;
  #channelUnits = 0;
  #channelsRemoved = 0;
  readonly #skipped = new Map<string, number>();
  readonly #perLayer = new Map<string, string | number>();

  /** A MatMul/Gemm with a constant weight considered as a producer of units. */
  candidate(): void {
    this.#candidates++;
  }

  skip(reason: string, where?: string): void {
    const general = reason.replace(/"[^"]*"/g, "…");
    this.#skipped.set(general, (this.#skipped.get(general) ?? 0) + 1);
    if (where) this.#perLayer.set(`skipped.${where}`, reason);
  }

  group(name: string, group: UnitGroup, removed: number): void {
    this.#traced++;
    if (removed > 0) this.#groups++;
    if (group.attention) {
      this.#headUnits += group.units;
      this.#headsRemoved += removed;
    } else {
      this.#channelUnits += group.units;
      this.#channelsRemoved += removed;
    }
    this.#perLayer.set(
      `removed.${name}`,
      `${removed}/${group.units} ${group.attention ? "heads" : "channels"}`,
    );
  }

  layers(component: string, dropped: { removed: string[]; scores: Map<string, number> }): void {
    for (const [block, score] of dropped.scores)
      this.#perLayer.set(`block-influence.${component}:${block}`, round(score));
    this.#perLayer.set("blocks-removed", dropped.removed.length);
    if (dropped.removed.length)
      this.#perLayer.set(`blocks-removed.${component}`, dropped.removed.join(", "));
  }

  error(consumer: string, before: number, after: number): void {
    this.#perLayer.set(`error-before.${consumer}`, round(before));
    this.#perLayer.set(`error-after.${consumer}`, round(after));
  }

  report(): PassStatistics {
    const stats: PassStatistics = {
      "candidate-nodes": this.#candidates,
      groups: this.#traced,
      "groups-pruned": this.#groups,
      heads: this.#headUnits,
      "heads-removed": this.#headsRemoved,
      channels: this.#channelUnits,
      "channels-removed": this.#channelsRemoved,
    };
    for (const [reason, n] of this.#skipped) stats[`skipped: ${reason}`] = n;
    for (const [k, v] of this.#perLayer) stats[k] = v;
    return stats;
  }
}

function round(x: number): number {
  return Number(x.toPrecision(4));
}
