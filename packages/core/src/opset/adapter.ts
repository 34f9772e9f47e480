import type { Node } from "../ir/node.js";
import type { GraphEditor } from "./edit.js";

/** What an adapter sees besides the node: the editor and where the conversion is going. */
export interface AdapterContext {
  readonly editor: GraphEditor;
  /** The opset the node is being raised to in this step. */
  readonly version: number;
  /** The opset the whole conversion ends at. */
  readonly target: number;
  /**
   * Resize nodes that were Upsample before opset 10: their scales are at least 1 by
   * Upsample's definition, so nearest rounding is known without constant scales.
   */
  readonly fromUpsample: WeakSet<Node>;
}

/**
 * Moves one node of one op across the opset version where that op's signature changed
 * (`version` is the new one). `check` says why the node cannot be converted exactly; the
 * converter asks every node before it changes anything, so a refused conversion leaves the
 * model untouched. `adapt` rewrites the node into the new version's form.
 */
export interface Adapter {
  /** kebab-case; names the adapter in logs, statistics and docs/opset-conversion.md. */
  readonly name: string;
  /** The op the node becomes (Upsample → Resize); later steps then look up that op. */
  readonly becomes?: string;
  check?(node: Node, context: Pick<AdapterContext, "target">): string | undefined;
  /** Returns false when the node already had the new form (nothing to count). */
  adapt(node: Node, context: AdapterContext): boolean | undefined;
}

/** The op's signature changed, but a node written for the old version means the same in the new. */
export const COMPATIBLE: Adapter = { name: "compatible", adapt: () => false };
