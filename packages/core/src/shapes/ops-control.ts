import { AttributeType } from "../ir/attribute.js";
import { DataType } from "../ir/dtype.js";
import type { Graph } from "../ir/graph.js";
import type { Dim, TensorType, ValueType } from "../ir/types.js";
import {
  axis,
  BOOL,
  INT64,
  type InferContext,
  type Inferred,
  type OpInference,
  tensor,
} from "./context.js";

/** The type both branches agree on: dims they share, the rank when only dims differ. */
export function unifyTypes(
  a: ValueType | undefined,
  b: ValueType | undefined,
): ValueType | undefined {
  if (!a || !b) return a ?? b;
  if (a.kind !== "tensor" || b.kind !== "tensor") return a.kind === b.kind ? a : undefined;
  if (a.elemType !== b.elemType) return undefined;
  const da = a.shape?.dims;
  const db = b.shape?.dims;
  if (!da || !db || da.length !== db.length) return { kind: "tensor", elemType: a.elemType };
  return {
    kind: "tensor",
    elemType: a.elemType,
    shape: { dims: da.map((d, i) => (d === db[i] ? d : null)) },
  };
}

function asInferred(t: ValueType | undefined): Inferred {
  if (!t) return undefined;
  return t.kind === "tensor" ? tensor(t.elemType, t.shape?.dims) : { type: t };
}

function graphAttr(ctx: InferContext, name: string): Graph | undefined {
  const a = ctx.node.attribute(name);
  return a?.type === AttributeType.GRAPH ? a.value : undefined;
}

function withDims(
  t: ValueType | undefined,
  f: (dims: readonly Dim[]) => Dim[] | undefined,
): ValueType | undefined {
  if (t?.kind !== "tensor") return t;
  const dims = t.shape?.dims;
  const out = dims ? f(dims) : undefined;
  return out
    ? { kind: "tensor", elemType: t.elemType, shape: { dims: out } }
    : { kind: "tensor", elemType: t.elemType };
}

function ifInference(ctx: InferContext): Inferred[] {
  const thenBranch = graphAttr(ctx, "then_branch");
  const elseBranch = graphAttr(ctx, "else_branch");
  if (!thenBranch || !elseBranch) return [];
  const a = ctx.inferSubgraph(thenBranch, []);
  const b = ctx.inferSubgraph(elseBranch, []);
  return ctx.node.outputs.map((_, i) => asInferred(unifyTypes(a[i], b[i])));
}

function loopInference(ctx: InferContext): Inferred[] {
  const body = graphAttr(ctx, "body");
  if (!body) return [];
  const carried = Array.from({ length: Math.max(0, ctx.inputCount - 2) }, (_, i) =>
    ctx.type(i + 2),
  );
  const bodyInputs = (state: (ValueType | undefined)[]) => [
    { kind: "tensor", elemType: INT64, shape: { dims: [] } } as TensorType,
    { kind: "tensor", elemType: BOOL, shape: { dims: [] } } as TensorType,
    ...state,
  ];
  let outs = ctx.inferSubgraph(body, bodyInputs(carried));
  // a carried value whose dims change between iterations keeps only what stays the same
  const settled = carried.map((t, i) => unifyTypes(t, outs[i + 1]) ?? t);
  if (settled.some((t, i) => JSON.stringify(t) !== JSON.stringify(carried[i])))
    outs = ctx.inferSubgraph(body, bodyInputs(settled));
  const n = carried.length;
  const trip = ctx.constant(0);
  const iterations: Dim = trip && trip.elementCount === 1 && !ctx.has(1) ? trip.scalar() : null;
  return ctx.node.outputs.map((_, i) => {
    if (i < n) return asInferred(unifyTypes(settled[i], outs[i + 1]));
    return asInferred(withDims(outs[i + 1], (dims) => [iterations, ...dims]));
  });
}

function scanInference(ctx: InferContext): Inferred[] {
  const body = graphAttr(ctx, "body");
  if (!body || ctx.opset < 9) return [];
  const m = ctx.node.getInt("num_scan_inputs");
  const n = ctx.inputCount - m;
  const inputAxes = ctx.node.getInts("scan_input_axes", new Array(m).fill(0));
  const states = Array.from({ length: n }, (_, i) => ctx.type(i));
  let length: Dim = null;
  const slices = Array.from({ length: m }, (_, j) =>
    withDims(ctx.type(n + j), (dims) => {
      const a = axis(inputAxes[j]!, dims.length);
      length = dims[a]!;
      return dims.filter((_, k) => k !== a);
    }),
  );
  const outs = ctx.inferSubgraph(body, [...states, ...slices]);
  const k = ctx.node.outputs.length - n;
  const outputAxes = ctx.node.getInts("scan_output_axes", new Array(k).fill(0));
  return ctx.node.outputs.map((_, i) => {
    if (i < n) return asInferred(unifyTypes(states[i], outs[i]));
    return asInferred(
      withDims(outs[i], (dims) => {
        const a = axis(outputAxes[i - n]!, dims.length + 1);
        return [...dims.slice(0, a), length, ...dims.slice(a)];
      }),
    );
  });
}

/** A sequence of tensors of the inputs' (unified) type. */
const sequenceOf = (...types: (ValueType | undefined)[]): Inferred => {
  if (types.length === 0 || types.some((t) => !t)) return undefined;
  const elem = types.reduce<ValueType | undefined>((a, t) => unifyTypes(a, t), types[0]);
  return elem ? { type: { kind: "sequence", elemType: elem } } : undefined;
};

const elementOf = (t: ValueType | undefined): ValueType | undefined =>
  t?.kind === "sequence" ? t.elemType : undefined;

/** SequenceMap: the body runs on each element; its outputs are gathered into sequences. */
function sequenceMap(ctx: InferContext): Inferred[] {
  const body = graphAttr(ctx, "body");
  if (!body) return [];
  const inputs = Array.from({ length: ctx.inputCount }, (_, i) => {
    const t = ctx.type(i);
    return i === 0 || t?.kind === "sequence" ? elementOf(t) : t;
  });
  return ctx
    .inferSubgraph(body, inputs)
    .map((t) => sequenceOf(withDims(t, (d) => d.map(() => null))));
}

export const controlOps: Record<string, OpInference> = {
  SequenceMap: sequenceMap,
  If: ifInference,
  Loop: loopInference,
  Scan: scanInference,
  SequenceConstruct: (ctx) => [
    sequenceOf(...Array.from({ length: ctx.inputCount }, (_, i) => ctx.type(i))),
  ],
  SequenceEmpty: (ctx) => [
    sequenceOf({ kind: "tensor", elemType: ctx.node.getInt("dtype", DataType.FLOAT) as DataType }),
  ],
  SequenceInsert: (ctx) => [sequenceOf(elementOf(ctx.type(0)), ctx.type(1))],
  SequenceErase: (ctx) => [ctx.type(0) ? { type: ctx.type(0)! } : undefined],
  SequenceLength: () => [tensor(INT64, [])],
  SequenceAt: (ctx) => {
    const t = ctx.type(0);
    return [t?.kind === "sequence" ? asInferred(t.elemType) : undefined];
  },
  SplitToSequence: (ctx) => {
    const t = ctx.type(0);
    const a = ctx.node.getInt("axis", 0);
    const keep = ctx.node.getInt("keepdims", 1) === 1 || ctx.has(1);
    return [
      sequenceOf(
        withDims(t, (dims) => {
          const at = axis(a, dims.length);
          return keep ? dims.map((d, i) => (i === at ? null : d)) : dims.filter((_, i) => i !== at);
        }),
      ),
    ];
  },
  ConcatFromSequence: (ctx) => {
    const t = ctx.type(0);
    return [
      t?.kind === "sequence" && t.elemType?.kind === "tensor"
        ? tensor(t.elemType.elemType)
        : undefined,
    ];
  },
  OptionalHasElement: () => [tensor(BOOL, [])],
  OptionalGetElement: (ctx) => {
    const t = ctx.type(0);
    return [asInferred(t?.kind === "optional" ? t.elemType : t)];
  },
  Optional: (ctx) => {
    const t = ctx.has(0) ? ctx.type(0) : undefined;
    return [t ? { type: { kind: "optional", elemType: t } } : undefined];
  },
};
