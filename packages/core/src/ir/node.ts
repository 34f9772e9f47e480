import { errors } from "../diagnostics.js";
import {
  type Attribute,
  type AttributeRef,
  AttributeType,
  type AttrString,
  attributeFromJs,
  isAttributeRef,
} from "./attribute.js";
import type { Graph } from "./graph.js";
import { Value } from "./value.js";

export interface NodeInit {
  opType: string;
  /** "" (or "ai.onnx") is the default ONNX domain. */
  domain?: string;
  name?: string;
  overload?: string;
  /** `undefined` marks an omitted optional input (an empty name in ONNX). */
  inputs?: readonly (Value | undefined)[];
  /** Output values, or their names, or how many unnamed outputs to create. */
  outputs?: readonly (Value | string)[] | number;
  attributes?: Iterable<Attribute | AttributeRef> | Record<string, unknown>;
  docString?: string;
}

/** An operator application. Its outputs are Values it owns; its inputs are Values it uses. */
export class Node {
  opType: string;
  domain: string;
  name: string;
  overload: string;
  docString: string;
  readonly metadataProps = new Map<string, string>();
  readonly attributes = new Map<string, Attribute | AttributeRef>();
  readonly #outputs: Value[];
  readonly #inputs: (Value | undefined)[] = [];
  /** @internal Owner graph and list links, maintained by Graph. */
  _graph: Graph | undefined;
  /** @internal */
  _prev: Node | undefined;
  /** @internal */
  _next: Node | undefined;

  constructor(init: NodeInit) {
    this.opType = init.opType;
    this.domain = init.domain === "ai.onnx" ? "" : (init.domain ?? "");
    this.name = init.name ?? "";
    this.overload = init.overload ?? "";
    this.docString = init.docString ?? "";
    for (const input of init.inputs ?? []) this.appendInput(input);
    const outputs = init.outputs ?? 1;
    const values =
      typeof outputs === "number"
        ? Array.from({ length: outputs }, () => new Value())
        : outputs.map((o) => (typeof o === "string" ? new Value(o) : o));
    values.forEach((v, i) => {
      v._setProducer(this, i);
    });
    this.#outputs = values;
    if (init.attributes) {
      const attrs =
        Symbol.iterator in init.attributes
          ? [...(init.attributes as Iterable<Attribute | AttributeRef>)]
          : Object.entries(init.attributes)
              .filter(([, v]) => v !== undefined)
              .map(([k, v]) => attributeFromJs(k, v));
      for (const a of attrs) this.setAttribute(a);
    }
  }

  get graph(): Graph | undefined {
    return this._graph;
  }

  get inputs(): readonly (Value | undefined)[] {
    return this.#inputs;
  }

  get outputs(): readonly Value[] {
    return this.#outputs;
  }

  /**
   * Adds an output at the end (an If that carries one more branch output); returns it. The value
   * must have no producer yet.
   */
  appendOutput(value: Value = new Value()): Value {
    value._setProducer(this, this.#outputs.length);
    this.#outputs.push(value);
    return value;
  }

  /** Drops trailing outputs from `count` on; refuses while one of them is still read. */
  truncateOutputs(count: number): void {
    for (const out of this.#outputs.slice(count))
      if (out.uses().length > 0)
        throw errors.irMisuse(
          `node "${this.name}" (${this.opType}): cannot drop output "${out.name}": it is still read`,
        );
    while (this.#outputs.length > count) this.#outputs.pop()!._setProducer(undefined, -1);
  }

  /** The node's first output, for the common single-output case. */
  get output(): Value {
    const out = this.outputs[0];
    if (!out) throw errors.irMisuse(`node "${this.name}" (${this.opType}) has no outputs`);
    return out;
  }

  /** `domain::opType`, with the default domain left out: `MatMul`, `com.microsoft::MatMulNBits`. */
  get qualifiedOp(): string {
    return this.domain === "" ? this.opType : `${this.domain}::${this.opType}`;
  }

  setInput(index: number, value: Value | undefined): void {
    if (index < 0 || index > this.#inputs.length) {
      throw errors.irMisuse(`node "${this.name}": input index ${index} out of range`);
    }
    const old = this.#inputs[index];
    if (old === value && index < this.#inputs.length) return;
    old?._removeUse(this, index);
    this.#inputs[index] = value;
    value?._addUse(this, index);
  }

  appendInput(value: Value | undefined): void {
    this.setInput(this.#inputs.length, value);
  }

  /** Drops trailing inputs from `count` on (to remove optional inputs). */
  truncateInputs(count: number): void {
    while (this.#inputs.length > count) {
      const index = this.#inputs.length - 1;
      this.#inputs[index]?._removeUse(this, index);
      this.#inputs.pop();
    }
  }

  /** @internal Detaches the node from all of its inputs (used when it is removed). */
  _dropInputs(): void {
    this.truncateInputs(0);
  }

  attribute(name: string): Attribute | undefined {
    const a = this.attributes.get(name);
    return a && !isAttributeRef(a) ? a : undefined;
  }

  setAttribute(a: Attribute | AttributeRef): void {
    this.attributes.set(a.name, a);
    if (isAttributeRef(a)) return;
    if (a.type === AttributeType.GRAPH) a.value.parent = this;
    else if (a.type === AttributeType.GRAPHS) for (const g of a.value) g.parent = this;
  }

  getInt(name: string, fallback?: number): number {
    const a = this.attribute(name);
    if (a?.type === AttributeType.INT) return Number(a.value);
    return this.#missing(name, "an int", fallback);
  }

  getFloat(name: string, fallback?: number): number {
    const a = this.attribute(name);
    if (a?.type === AttributeType.FLOAT) return a.value;
    return this.#missing(name, "a float", fallback);
  }

  getString(name: string, fallback?: string): string {
    const a = this.attribute(name);
    if (a?.type === AttributeType.STRING) return attrText(a.value);
    return this.#missing(name, "a string", fallback);
  }

  getInts(name: string, fallback?: number[]): number[] {
    const a = this.attribute(name);
    if (a?.type === AttributeType.INTS) return a.value.map(Number);
    return this.#missing(name, "ints", fallback);
  }

  getFloats(name: string, fallback?: number[]): number[] {
    const a = this.attribute(name);
    if (a?.type === AttributeType.FLOATS) return a.value;
    return this.#missing(name, "floats", fallback);
  }

  /** Graphs held in attributes (If branches, Loop and Scan bodies). */
  subgraphs(): Graph[] {
    const graphs: Graph[] = [];
    for (const a of this.attributes.values()) {
      if (isAttributeRef(a)) continue;
      if (a.type === AttributeType.GRAPH) graphs.push(a.value);
      else if (a.type === AttributeType.GRAPHS) graphs.push(...a.value);
    }
    return graphs;
  }

  #missing<T>(name: string, what: string, fallback: T | undefined): T {
    if (fallback !== undefined && !this.attributes.has(name)) return fallback;
    const present = this.attributes.get(name);
    throw errors.invalidModel(
      `node "${this.name}" (${this.qualifiedOp})`,
      present
        ? `attribute "${name}" is ${AttributeType[present.type]}, expected ${what}`
        : `attribute "${name}" is missing (expected ${what})`,
    );
  }
}

function attrText(value: AttrString): string {
  return typeof value === "string" ? value : new TextDecoder().decode(value);
}
