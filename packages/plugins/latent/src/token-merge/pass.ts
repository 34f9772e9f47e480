import {
  convertOpset,
  createBuilder,
  definePass,
  graphScopes,
  inlineFunctions,
  LatheError,
  type Model,
  type PassStatistics,
  removeDeadCode,
} from "@lathe/core";
import { tokenMergeOptionsSchema } from "../generated/options.js";
import { wrapRegion } from "./emit.js";
import {
  attentionNodes,
  attentionRegion,
  feedForwardAfter,
  type MergeSite,
  type TokenRegion,
} from "./find.js";

/** Options of `latent/token-merge`. */
export interface TokenMergeOptions {
  /**
   * Share of each wrapped block's tokens merged away (ToMe's r = ⌊ratio·N⌋, at most the sources).
   * @minimum 0
   * @exclusiveMaximum 1
   * @default 0.5
   */
  ratio: number;
  /**
   * Where the tokens are merged: before self-attention (ToMe for SD's default), before
   * cross-attention (its queries), before the feed-forward.
   * @minItems 1
   * @default ["self-attention"]
   */
  merge: MergeSite[];
  /**
   * Similarity of the tokens: the attention's input hidden states (ToMe for SD), or the
   * self-attention's keys (ToMe for ViTs; one more key projection at full size).
   * @default "hidden"
   */
  similarity: "hidden" | "keys";
  /**
   * One destination token in every `stride` (along the flattened positions); the others are
   * sources that may merge into them.
   * @integer
   * @minimum 2
   * @default 4
   */
  stride: number;
  /**
   * Merge in the blocks of the `levels` highest-resolution levels only (ToMe for SD's
   * max_downsample): blocks are grouped by hidden width, the narrowest (the highest resolution in
   * a UNet) first.
   * @integer
   * @minimum 1
   * @default 1
   */
  levels: number;
  /** Merge only in the blocks whose attention node name contains one of these (overrides `levels`). */
  blocks?: string[];
  /** The denoiser component (default: unet, transformer, denoiser or model, or the only one). */
  component?: string;
}

const DENOISERS = ["unet", "transformer", "denoiser", "model"];
/** ScatterElements with reduction needs opset 16. */
const MERGE_OPSET = 16;

export const tokenMerge = definePass<TokenMergeOptions>({
  id: "latent/token-merge",
  summary:
    "Token merging (ToMe for SD): merges a share of the tokens before attention in the denoiser's transformer blocks and unmerges after.",
  description:
    "Finds every self-attention (unfused Softmax or fused MultiHeadAttention/Attention) between its input and output projections, and wraps it (optionally the cross-attention queries and the feed-forward) in bipartite soft matching computed in the graph: every `stride`-th token is a destination, each other token's most similar destination is found by cosine similarity, the r = ⌊ratio·N⌋ most similar are averaged into their destinations, the block runs on N − r tokens, and every token takes its merged row after. Shapes stay dynamic.",
  options: tokenMergeOptionsSchema,
  async run(bundle, context) {
    const options = context.options;
    const name = denoiserName(bundle.components, options.component);
    const model = bundle.components.get(name) as Model;
    if (options.ratio === 0) {
      context.logger.info("ratio 0: no token is merged, the model is unchanged");
      return { bundle, modified: false, statistics: { blocks: 0, ratio: 0 } };
    }
    // attention inside a model-local function is inlined at its calls (as ONNX Runtime does on
    // load), so a module-per-function export is merged like any other
    const inlined = inlineFunctions(model, { select: (fn) => attentionNodes(fn.graph).length > 0 });
    if (inlined.calls > 0)
      context.logger.info(`inlined ${inlined.calls} call(s) of ${inlined.functions.join(", ")}`);
    // what stays in If/Loop/Scan bodies (or refused functions) is counted, not silently skipped
    let elsewhere = 0;
    for (const scope of graphScopes(model))
      if (scope.kind !== "main") elsewhere += attentionNodes(scope.graph).length;
    if (elsewhere > 0)
      context.logger.info(
        `${elsewhere} attention node(s) inside subgraphs or functions not merged: token merging wraps main-graph blocks`,
      );
    const graph = model.graph;
    const cores = attentionNodes(graph);
    const found = cores.map((core) => attentionRegion(graph, core));
    const regions: TokenRegion[] = [];
    const declined: string[] = [];
    for (const f of found) {
      if ("region" in f) regions.push(f.region);
      else declined.push(`${f.block}: ${f.declined}`);
    }
    const selfAttention = regions.filter((r) => r.site === "self-attention");
    if (selfAttention.length === 0) {
      throw new LatheError(
        "TOKEN_MERGE_NO_SELF_ATTENTION",
        `no self-attention found in "${name}" (${cores.length} attention nodes${declined.length ? `: ${declined.join("; ")}` : ""})`,
        {
          where: name,
          hint: "latent/token-merge wraps attention whose queries and keys are projected (MatMul with a constant weight) from the same [batch, tokens, width] input, as diffusers' transformer blocks export it",
        },
      );
    }
    const chosen = chooseBlocks(selfAttention, options);
    const sites = new Set(options.merge);
    const wrap: TokenRegion[] = [];
    const coreSet = new Set(cores);
    for (const self of chosen) {
      if (sites.has("self-attention")) wrap.push(self);
      if (sites.has("cross-attention")) {
        const cross = regions.find(
          (r) =>
            r.site === "cross-attention" &&
            r.block.replace(/attn2$/, "") === self.block.replace(/attn1$/, ""),
        );
        if (cross) wrap.push(cross);
        else declined.push(`${self.block}: no cross-attention in this block`);
      }
      if (sites.has("feed-forward")) {
        const last =
          regions.find(
            (r) =>
              r.site === "cross-attention" &&
              r.block.replace(/attn2$/, "") === self.block.replace(/attn1$/, ""),
          ) ?? self;
        const ff = feedForwardAfter(graph, last, coreSet);
        if ("region" in ff) wrap.push(ff.region);
        else declined.push(`${ff.block}: ${ff.declined}`);
      }
    }
    const from = model.opset("") ?? MERGE_OPSET;
    if (from < MERGE_OPSET) {
      convertOpset(model, MERGE_OPSET);
      context.logger.info(`converted from opset ${from} to ${MERGE_OPSET} (ScatterElements add)`);
    }
    for (const region of wrap) {
      const b = createBuilder({
        graph,
        opset: model.opset("") ?? MERGE_OPSET,
        namePrefix: `${region.block}/token_merge/${region.site}`,
      });
      wrapRegion(b, graph, region, options);
    }
    graph.sort();
    removeDeadCode(graph);
    for (const reason of declined) context.logger.info(`not merged: ${reason}`);
    const statistics: PassStatistics = {
      ratio: options.ratio,
      blocks: chosen.length,
      "self-attention blocks": selfAttention.length,
      wrapped: wrap.length,
      declined: declined.length,
      "function-calls-inlined": inlined.calls,
      "attention-not-visited: inside a subgraph or function (main-graph blocks only)": elsewhere,
    };
    for (const region of wrap)
      statistics[`merged.${region.block}.${region.site}`] =
        `⌊${options.ratio}·N⌋ of N tokens (width ${region.width})`;
    context.logger.info(
      `merging ${Math.round(options.ratio * 100)} % of the tokens in ${wrap.length} regions of ${chosen.length} of ${selfAttention.length} transformer blocks`,
    );
    const components = new Map(bundle.components);
    components.set(name, model);
    return {
      bundle: { components, metadata: { ...bundle.metadata, tokenMerge: { ...options } } },
      modified: true,
      statistics,
    };
  },
});

function denoiserName(components: ReadonlyMap<string, Model>, named: string | undefined): string {
  if (named) {
    if (components.has(named)) return named;
    throw new LatheError("LATENT_COMPONENT_MISSING", `the bundle has no component "${named}"`, {
      where: "options.component",
      hint: `the bundle has ${[...components.keys()].join(", ")}`,
    });
  }
  const found = DENOISERS.find((n) => components.has(n));
  if (found) return found;
  if (components.size === 1) return [...components.keys()][0] as string;
  throw new LatheError(
    "LATENT_COMPONENT_MISSING",
    `no denoiser among ${[...components.keys()].join(", ")}`,
    { where: "options.component", hint: "name the denoiser component (`component: unet`)" },
  );
}

/** The blocks named in `blocks`, or those of the `levels` narrowest widths. */
function chooseBlocks(regions: TokenRegion[], options: TokenMergeOptions): TokenRegion[] {
  if (options.blocks) {
    const wanted = options.blocks;
    return regions.filter((r) => wanted.some((w) => r.block.includes(w)));
  }
  const widths = [...new Set(regions.map((r) => r.width))].sort((a, b) => a - b);
  const allowed = new Set(widths.slice(0, options.levels));
  return regions.filter((r) => allowed.has(r.width));
}
