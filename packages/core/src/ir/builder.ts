import { schemaFor } from "../schemas/registry.js";
import type { OpSchema } from "../schemas/types.js";
import {
  type Attribute,
  type AttributeRef,
  AttributeType,
  attr,
  attributeFromJs,
} from "./attribute.js";
import { DataType } from "./dtype.js";
import { Graph } from "./graph.js";
import { Model, type ModelInit } from "./model.js";
import { Node } from "./node.js";
import type { ContribOpName, OnnxOpName } from "./op-names.js";
import { Tensor } from "./tensor.js";
import { type Dim, tensorType } from "./types.js";
import { Value } from "./value.js";

/** Attribute values as plain JS: numbers, bigints, strings, arrays, tensors, graphs, or `attr.*`. */
export type AttributeMap = Record<string, unknown>;

export interface OpOptions {
  /** Operator domain; its opset is imported (version from `opsets`, default 1). */
  domain?: string;
  name?: string;
  /** Number of outputs, or their names. Default: one. */
  outputs?: number | readonly string[];
}

/** `b.MatMul(x, w)`, `b.Transpose(x, { perm: [0, 2, 1, 3] })`: returns the first output. */
export type OpCall = (...args: (Value | undefined | AttributeMap)[]) => Value;

export interface BuilderOptions {
  /** Default-domain opset version. Default 21. */
  opset?: number;
  /** Other domains and their versions, e.g. `{ "com.microsoft": 1 }`. */
  opsets?: Record<string, number>;
  /** Build into an existing graph (a pass adding nodes) instead of a new one. */
  graph?: Graph;
  /** Prefix for generated node names, like exporters' module paths (`/model/layers.0/attn`). */
  namePrefix?: string;
}

/**
 * Attributes that ONNX defines as floats although one often writes integral values
 * (`alpha: 1`): inferring INT for them would make ORT reject the model. Used for ops the
 * schema table does not know; for the others the schema says which attributes are floats.
 */
const FLOAT_ATTRIBUTES = new Set([
  "alpha",
  "beta",
  "gamma",
  "epsilon",
  "bias",
  "lambd",
  "ratio",
  "momentum",
  "spatial_scale",
  "scale",
  "threshold",
  "value_float",
  "seed",
  "mean",
  "low",
  "high",
  "extrapolation_value",
  "cubic_coeff_a",
]);

/**
 * A typed way to create graphs, used by passes, tests and the model zoo. Unknown property
 * names that start with a capital letter are operators: `b.Softmax(x, { axis: -1 })`.
 */
export class GraphBuilder {
  readonly graph: Graph;
  readonly opsets: Map<string, number>;
  namePrefix: string;
  readonly #counters = new Map<string, number>();

  constructor(options: BuilderOptions = {}) {
    this.graph = options.graph ?? new Graph();
    this.opsets = new Map([["", options.opset ?? 21], ...Object.entries(options.opsets ?? {})]);
    this.namePrefix = options.namePrefix ?? "";
  }

  /** Declares a graph input. */
  input(name: string, elemType: DataType, dims?: readonly Dim[]): Value {
    const value = new Value(name, tensorType(elemType, dims));
    this.graph.inputs.push(value);
    return value;
  }

  /** Declares a graph output, naming the value (and typing it, when given). */
  output(value: Value, name?: string, elemType?: DataType, dims?: readonly Dim[]): Value {
    if (name !== undefined) value.name = name;
    if (elemType !== undefined) value.type = tensorType(elemType, dims);
    this.graph.outputs.push(value);
    return value;
  }

  /** Adds an initializer from a tensor (its name, or `name`). */
  initializer(tensor: Tensor, name?: string): Value {
    const finalName = name ?? (tensor.name || this.#uniqueName("const"));
    tensor.name = finalName;
    return this.graph.addInitializer(tensor, finalName);
  }

  /** Adds a float32 (or `dataType`) initializer from values. */
  constant(
    values: ArrayLike<number> | ArrayLike<bigint>,
    dims: readonly number[],
    dataType: DataType = DataType.FLOAT,
    name?: string,
  ): Value {
    return this.initializer(Tensor.fromArray(dataType, dims, values), name);
  }

  /** An int64 initializer, as shape operands (Reshape, Slice, Unsqueeze axes) need. */
  int64s(values: readonly number[], name?: string): Value {
    return this.constant(values, [values.length], DataType.INT64, name);
  }

  /** A scalar initializer. */
  scalar(value: number, dataType: DataType = DataType.FLOAT, name?: string): Value {
    return this.constant([value], [], dataType, name);
  }

  /** Creates and appends a node; returns it (for multi-output ops use `node.outputs`). */
  node(
    opType: string,
    inputs: readonly (Value | undefined)[],
    attributes: AttributeMap | Iterable<Attribute | AttributeRef> = {},
    options: OpOptions = {},
  ): Node {
    const domain = options.domain === "ai.onnx" ? "" : (options.domain ?? "");
    if (!this.opsets.has(domain)) this.opsets.set(domain, 1);
    const name = options.name ?? this.#uniqueName(opType);
    const outputs =
      typeof options.outputs === "object"
        ? options.outputs
        : Array.from({ length: options.outputs ?? 1 }, (_, i) => `${name}_output_${i}`);
    const node = new Node({
      opType,
      domain,
      name,
      inputs,
      outputs,
      attributes:
        Symbol.iterator in attributes
          ? (attributes as Iterable<Attribute>)
          : toAttributes(attributes, schemaFor(domain, opType, this.opsets.get(domain) ?? 1)),
    });
    this.graph.append(node);
    return node;
  }

  /** Like `node`, returning the first output. */
  op(
    opType: string,
    inputs: readonly (Value | undefined)[],
    attributes: AttributeMap = {},
    options: OpOptions = {},
  ): Value {
    return this.node(opType, inputs, attributes, options).output;
  }

  /** Operators of another domain: `b.domain("com.microsoft").MatMulNBits(...)`. */
  domain(domain: string, version?: number): DomainOps {
    if (version !== undefined) this.opsets.set(domain, version);
    return new Proxy({} as DomainOps, {
      get: (_, prop) => (typeof prop === "string" ? this.#opCall(prop, domain) : undefined),
    });
  }

  /** A model around the graph, importing every opset the builder used. */
  build(init: Omit<ModelInit, "graph" | "opsetImports"> = {}): Model {
    return new Model({ ...init, graph: this.graph, opsetImports: this.opsets });
  }

  /** @internal Used by the Proxy in `createBuilder`. */
  _opCall(opType: string): OpCall {
    return this.#opCall(opType, "");
  }

  #opCall(opType: string, domain: string): OpCall {
    return (...args) => {
      const inputs: (Value | undefined)[] = [];
      let attributes: AttributeMap = {};
      for (const arg of args) {
        if (arg === undefined || arg instanceof Value) inputs.push(arg);
        else attributes = arg;
      }
      return this.op(opType, inputs, attributes, { domain });
    };
  }

  #uniqueName(stem: string): string {
    const n = this.#counters.get(stem) ?? 0;
    this.#counters.set(stem, n + 1);
    const base = `${this.namePrefix}${this.namePrefix ? "/" : ""}${stem}`;
    return n === 0 ? base : `${base}_${n}`;
  }
}

/** A builder whose capitalized properties are operators of the default domain. */
export type Builder = GraphBuilder & { readonly [Op in OnnxOpName]: OpCall };

/** Operators of one domain: the contrib ops are typed, any other name works at run time. */
export type DomainOps = { readonly [Op in ContribOpName]: OpCall } & {
  readonly [op: string]: OpCall | undefined;
};

/** A GraphBuilder whose capitalized properties are operators: `b.MatMul(x, w)`. */
export function createBuilder(options: BuilderOptions = {}): Builder {
  const builder = new GraphBuilder(options);
  return new Proxy(builder, {
    get(target, prop, receiver) {
      if (typeof prop === "string" && !(prop in target) && /^[A-Z]/.test(prop))
        return target._opCall(prop);
      const value = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as Builder;
}

/** Plain JS values as attributes, typed by the op's schema where it says FLOAT or FLOATS. */
function toAttributes(map: AttributeMap, schema: OpSchema | undefined): Attribute[] {
  const out: Attribute[] = [];
  for (const [name, value] of Object.entries(map)) {
    if (value === undefined) continue;
    const declared = schema?.attributes.find((a) => a.name === name)?.type;
    const isFloat = declared === AttributeType.FLOAT || (!declared && FLOAT_ATTRIBUTES.has(name));
    const isFloats = declared === AttributeType.FLOATS || (!declared && FLOAT_ATTRIBUTES.has(name));
    if (typeof value === "number" && isFloat) out.push(attr.float(name, value));
    else if (Array.isArray(value) && isFloats && value.every((v) => typeof v === "number"))
      out.push(attr.floats(name, value.map(Number)));
    else out.push(attributeFromJs(name, value));
  }
  return out;
}
