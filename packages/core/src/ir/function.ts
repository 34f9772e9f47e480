import type { Attribute } from "./attribute.js";
import { Graph } from "./graph.js";

/** The key a node uses to call a model-local function: domain, name and overload. */
export function functionKey(domain: string, name: string, overload = ""): string {
  return overload === "" ? `${domain}::${name}` : `${domain}::${name}::${overload}`;
}

export interface FunctionInit {
  domain: string;
  name: string;
  overload?: string;
  graph?: Graph;
  /** Attribute names without defaults. */
  attributes?: string[];
  /** Attributes with default values. */
  attributeDefaults?: Attribute[];
  opsetImports?: Iterable<[string, number]>;
  docString?: string;
}

/**
 * A model-local function (ONNX FunctionProto): a named body that nodes call with
 * `domain`/`opType` = the function's domain/name. The body is a Graph whose inputs and
 * outputs are the function's formal parameters; attribute references inside it are kept
 * as AttributeRefs.
 */
export class OnnxFunction {
  domain: string;
  name: string;
  overload: string;
  readonly graph: Graph;
  readonly attributes: string[];
  readonly attributeDefaults: Attribute[];
  readonly opsetImports: Map<string, number>;
  docString: string;
  readonly metadataProps = new Map<string, string>();

  constructor(init: FunctionInit) {
    this.domain = init.domain;
    this.name = init.name;
    this.overload = init.overload ?? "";
    this.graph = init.graph ?? new Graph({ name: init.name });
    this.attributes = init.attributes ?? [];
    this.attributeDefaults = init.attributeDefaults ?? [];
    this.opsetImports = new Map(init.opsetImports ?? []);
    this.docString = init.docString ?? "";
  }

  get key(): string {
    return functionKey(this.domain, this.name, this.overload);
  }
}
