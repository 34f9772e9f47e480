import type { DeviceConfigurationProto, TrainingInfoProto } from "../onnx/generated/onnx_pb.js";
import type { OnnxFunction } from "./function.js";
import { Graph } from "./graph.js";
import type { Node } from "./node.js";

export interface ModelInit {
  graph?: Graph;
  irVersion?: number;
  opsetImports?: Iterable<[string, number]>;
  producerName?: string;
  producerVersion?: string;
}

/** IR version Lathe writes by default: the newest that onnxruntime-node 1.30 accepts. */
export const DEFAULT_IR_VERSION = 10;

/**
 * An ONNX model: the main graph, the opsets it imports, model-local functions and metadata.
 * Training information and multi-device configuration are carried through unchanged.
 */
export class Model {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  domain = "";
  modelVersion = 0;
  docString = "";
  graph: Graph;
  /** Domain ("" for the default ONNX domain) → opset version. */
  readonly opsetImports: Map<string, number>;
  readonly metadataProps = new Map<string, string>();
  /** Model-local functions by `functionKey(domain, name, overload)`. */
  readonly functions = new Map<string, OnnxFunction>();
  /** Kept as decoded protobuf messages: Lathe does not interpret them but never drops them. */
  trainingInfo: TrainingInfoProto[] = [];
  configuration: DeviceConfigurationProto[] = [];

  constructor(init: ModelInit = {}) {
    this.graph = init.graph ?? new Graph();
    this.irVersion = init.irVersion ?? DEFAULT_IR_VERSION;
    this.opsetImports = new Map(init.opsetImports ?? [["", 21]]);
    this.producerName = init.producerName ?? "lathe";
    this.producerVersion = init.producerVersion ?? "";
  }

  /** The opset version imported for a domain (`""` and `"ai.onnx"` are the same domain). */
  opset(domain = ""): number | undefined {
    return this.opsetImports.get(domain === "ai.onnx" ? "" : domain);
  }

  /** Every node of the model: main graph, subgraphs and function bodies. */
  *allNodes(): IterableIterator<Node> {
    yield* this.graph.allNodes();
    for (const fn of this.functions.values()) yield* fn.graph.allNodes();
  }
}
