import { isLatheError } from "../diagnostics.js";
import { graphScopes } from "../graph/traverse.js";
import { DataType } from "../ir/dtype.js";
import { functionKey } from "../ir/function.js";
import type { Graph } from "../ir/graph.js";
import type { Model } from "../ir/model.js";
import type { Node } from "../ir/node.js";
import { Tensor } from "../ir/tensor.js";
import type { Dim, ValueType } from "../ir/types.js";
import type { Value } from "../ir/value.js";
import { constantOf } from "../rewrite/constants.js";
import { schemaFor } from "../schemas/registry.js";
import type { InferContext, Inferred, OpInference, TensorInfo } from "./context.js";
import { typesFromSchema } from "./from-schema.js";
import { contribOps } from "./ops-contrib.js";
import { controlOps } from "./ops-control.js";
import { elementwiseOps } from "./ops-elementwise.js";
import { nnOps } from "./ops-nn.js";
import { shapeOps } from "./ops-shape.js";

/** Inference functions by domain ("" is the default ONNX domain) and op type. */
export const SHAPE_INFERENCE: Readonly<Record<string, Readonly<Record<string, OpInference>>>> = {
  "": {
    ...elementwiseOps,
    ...shapeOps,
    ...nnOps,
    ...controlOps,
    // ONNX Runtime's own default-domain registration (schemas/ort-default-domain.ts)
    SimplifiedLayerNormalization: contribOps.SimplifiedLayerNormalization!,
  },
  "com.microsoft": contribOps,
};

/** What `inferShapes` did. */
export interface ShapeInferenceReport {
  /** Values that were given a type, or a more precise one. */
  inferred: number;
  /**
   * Nodes whose op has no inference function, by `domain::op`; their outputs get the element
   * type the op's schema implies (a concrete type, or the type its constraint shares with an
   * input), without a shape.
   */
  unknownOps: Record<string, number>;
  /** A declared type that contradicts inference (the declared one is kept), one line each. */
  conflicts: string[];
  /** Nodes whose inference failed (a malformed attribute, …), one line each. */
  failures: string[];
}

export interface ShapeInferenceOptions {
  /** Replace declared types that contradict inference instead of keeping them. Default false. */
  readonly overwrite?: boolean;
}

/** Small integer tensors (shape operands) whose elements are tracked through shape arithmetic. */
const MAX_TRACKED = 64;

/**
 * Static shape and type inference over the whole model: the main graph, every subgraph (If
 * branches, Loop and Scan bodies, with their inputs' types) and the bodies of model-local
 * functions at each call. Each node's outputs get the type its op's inference function gives,
 * merged with what the model declared (declared dims stay unless inference knows a number).
 * Symbolic dims are kept and combined (`batch`, `seq + past`), and shape values are propagated
 * (`Reshape(x, Concat(Shape(x)[0], [-1]))` is `[batch, …]`), as onnx's `data_prop` does.
 */
export function inferShapes(
  model: Model,
  options: ShapeInferenceOptions = {},
): ShapeInferenceReport {
  const engine = new Inference(model, options);
  engine.graph(model.graph, model.opsetImports, undefined);
  return engine.report;
}

/**
 * `inferShapes` without touching the model: every value's type (declared, or inferred where it
 * says more) in a map, for passes that need types while they edit (fp16's Casts at the borders).
 */
export function inferTypes(
  model: Model,
  options: ShapeInferenceOptions = {},
): { types: Map<Value, ValueType>; report: ShapeInferenceReport } {
  const engine = new Inference(model, options);
  const types: Env = new Map();
  engine.graph(model.graph, model.opsetImports, types);
  for (const { graph } of graphScopes(model, { functions: false })) {
    for (const v of [...graph.inputs, ...graph.initializers.values()]) {
      const t = engine.typeOf(v, types);
      if (t && !types.has(v)) types.set(v, t);
    }
    for (const node of graph)
      for (const out of node.outputs) if (out.type && !types.has(out)) types.set(out, out.type);
  }
  return { types, report: engine.report };
}

/** Per-call types of a function body (shared by every call, so never written into the IR). */
type Env = Map<Value, ValueType>;

class Inference {
  readonly report: ShapeInferenceReport = {
    inferred: 0,
    unknownOps: {},
    conflicts: [],
    failures: [],
  };
  readonly #values = new Map<Value, readonly Dim[]>();
  readonly #active = new Set<string>();

  constructor(
    readonly model: Model,
    readonly options: ShapeInferenceOptions,
  ) {}

  graph(graph: Graph, opsets: ReadonlyMap<string, number>, env: Env | undefined): void {
    for (const node of graph) this.node(node, opsets, env);
  }

  typeOf(value: Value | undefined, env: Env | undefined): ValueType | undefined {
    if (!value) return undefined;
    const found = env?.get(value) ?? value.type;
    if (found) return found;
    const c = value.constValue;
    if (c instanceof Tensor)
      return { kind: "tensor", elemType: c.dataType, shape: { dims: c.dims } };
    if (c) return { kind: "sparse_tensor", elemType: c.values.dataType, shape: { dims: c.dims } };
    return undefined;
  }

  valuesOf(value: Value | undefined): readonly Dim[] | undefined {
    if (!value) return undefined;
    const tracked = this.#values.get(value);
    if (tracked) return tracked;
    const c = constantOf(value);
    if (!c || c.elementCount > MAX_TRACKED || c.dims.length > 1) return undefined;
    if (!INTEGER.has(c.dataType)) return undefined;
    const values = Array.from(c.toArray() as ArrayLike<number | bigint>, Number);
    this.#values.set(value, values);
    return values;
  }

  node(node: Node, opsets: ReadonlyMap<string, number>, env: Env | undefined): void {
    const domain = node.domain;
    const fn = SHAPE_INFERENCE[domain]?.[node.opType];
    const local = this.model.functions.get(functionKey(domain, node.opType, node.overload));
    const opset = opsets.get(domain) ?? 1;
    const schema = !fn && !local ? schemaFor(domain, node.opType, opset) : undefined;
    if (!fn && !local) {
      const key = domain === "" ? node.opType : `${domain}::${node.opType}`;
      this.report.unknownOps[key] = (this.report.unknownOps[key] ?? 0) + 1;
      if (!schema) return;
    }
    const ctx = this.context(node, opset, opsets, env);
    let results: (Inferred | ValueType | undefined)[];
    try {
      results = fn
        ? fn(ctx)
        : schema
          ? typesFromSchema(schema, ctx)
          : (ctx.inferFunction() ?? []).map((t) => (t ? { type: t } : undefined));
    } catch (error) {
      const message = isLatheError(error) || error instanceof Error ? error.message : String(error);
      this.report.failures.push(`node "${node.name}" (${node.qualifiedOp}): ${message}`);
      return;
    }
    node.outputs.forEach((out, i) => {
      const r = results[i];
      if (!r || out.name === "") return;
      const type: ValueType = "type" in r ? r.type : toValueType(r as TensorInfo);
      this.write(out, type, env, node);
    });
  }

  write(value: Value, inferred: ValueType, env: Env | undefined, node?: Node): void {
    const existing = env ? (env.get(value) ?? value.type) : value.type;
    const merged = merge(existing, inferred);
    if (merged.conflict) {
      this.report.conflicts.push(
        `value "${value.name}"${node ? ` (output of ${node.qualifiedOp} "${node.name}")` : ""}: declared ${describe(existing)}, inferred ${describe(inferred)}`,
      );
      if (!this.options.overwrite) return;
    }
    const type = merged.conflict ? inferred : merged.type;
    if (JSON.stringify(type) === JSON.stringify(existing)) return;
    if (env) env.set(value, type);
    else value.type = type;
    this.report.inferred++;
  }

  context(
    node: Node,
    opset: number,
    opsets: ReadonlyMap<string, number>,
    env: Env | undefined,
  ): InferContext {
    const input = (i: number) => node.inputs[i];
    const self = this;
    return {
      node,
      opset,
      inputCount: node.inputs.length,
      has: (i) => input(i) !== undefined,
      type: (i) => self.typeOf(input(i), env),
      input(i) {
        const t = self.typeOf(input(i), env);
        if (t?.kind !== "tensor") return undefined;
        return t.shape ? { elemType: t.elemType, dims: t.shape.dims } : { elemType: t.elemType };
      },
      dims(i) {
        const t = self.typeOf(input(i), env);
        return t?.kind === "tensor" ? t.shape?.dims : undefined;
      },
      constant: (i) => constantOf(input(i)),
      values: (i) => self.valuesOf(input(i)),
      setValues(i, values) {
        const out = node.outputs[i];
        if (out && values.length <= MAX_TRACKED) self.#values.set(out, values);
      },
      inferSubgraph(graph, inputs) {
        graph.inputs.forEach((v, i) => {
          const t = inputs[i];
          if (t) self.write(v, t, env);
        });
        self.graph(graph, opsets, env);
        return graph.outputs.map((v) => self.typeOf(v, env));
      },
      inferFunction() {
        const fn = self.model.functions.get(functionKey(node.domain, node.opType, node.overload));
        if (!fn || self.#active.has(fn.key)) return undefined; // recursion: give up
        self.#active.add(fn.key);
        try {
          const local: Env = new Map();
          fn.graph.inputs.forEach((v, i) => {
            const t = self.typeOf(input(i), env);
            if (t) local.set(v, t);
          });
          const fnOpsets = new Map([...opsets, ...fn.opsetImports]);
          self.graph(fn.graph, fnOpsets, local);
          return fn.graph.outputs.map((v) => local.get(v) ?? v.type);
        } finally {
          self.#active.delete(fn.key);
        }
      },
    };
  }
}

const INTEGER = new Set([
  DataType.INT64,
  DataType.INT32,
  DataType.INT16,
  DataType.INT8,
  DataType.UINT8,
]);

function toValueType(t: TensorInfo): ValueType {
  return t.dims === undefined
    ? { kind: "tensor", elemType: t.elemType }
    : { kind: "tensor", elemType: t.elemType, shape: { dims: [...t.dims] } };
}

/**
 * Declared and inferred together: a known number beats a symbol, a symbol beats unknown, a
 * declared symbol stays (it is the name users know). A different element type, rank or number is
 * a conflict.
 */
function merge(
  existing: ValueType | undefined,
  inferred: ValueType,
): { type: ValueType; conflict: boolean } {
  if (!existing) return { type: inferred, conflict: false };
  if (existing.kind !== "tensor" || inferred.kind !== "tensor")
    return { type: existing, conflict: existing.kind !== inferred.kind };
  if (existing.elemType !== inferred.elemType && existing.elemType !== DataType.UNDEFINED)
    return { type: existing, conflict: true };
  const elemType = inferred.elemType;
  const a = existing.shape?.dims;
  const b = inferred.shape?.dims;
  if (!a || !b) {
    const dims = a ?? b;
    return {
      type: {
        ...existing,
        kind: "tensor",
        elemType,
        ...(dims ? { shape: { ...existing.shape, dims } } : {}),
      },
      conflict: false,
    };
  }
  if (a.length !== b.length) return { type: existing, conflict: true };
  let conflict = false;
  const dims = a.map((d, i) => {
    const e = b[i]!;
    if (typeof d === "number" && typeof e === "number" && d !== e) conflict = true;
    if (typeof d === "number") return d;
    if (typeof e === "number") return e;
    return d ?? e;
  });
  return { type: { ...existing, elemType, shape: { ...existing.shape, dims } }, conflict };
}

function describe(t: ValueType | undefined): string {
  if (!t) return "nothing";
  if (t.kind !== "tensor") return t.kind;
  const name = DataType[t.elemType] ?? String(t.elemType);
  return t.shape
    ? `${name}[${t.shape.dims.map((d) => d ?? "?").join(", ")}]`
    : `${name}[rank unknown]`;
}
