import {
  constantNumbers,
  constantOf,
  type Dim,
  type Graph,
  type Node,
  type Tensor,
  type Value,
} from "@lathe/core";
import { productOf, ratio } from "./monomial.js";
import { type Entry, evaluate } from "./shape-eval.js";

/**
 * One axis of one tensor that carries the units: its positions are numbered `base` … `base +
 * size − 1` in the group's union-find, so positions that must go together (a head's 64
 * columns in q, k and v, the row of the next layer that reads them, the bias entry) end in
 * one class: one removable unit.
 */
export interface TrackedAxis {
  readonly value: Value;
  readonly axis: number;
  readonly size: number;
  readonly base: number;
}

/** A stored constant with an axis whose entries follow a tracked axis (entry offset + p ↔ position p). */
export interface ConstantSlot {
  readonly node: Node;
  readonly input: number;
  readonly tensor: Tensor;
  readonly axis: number;
  readonly tracked: TrackedAxis;
  /** producer: its columns make the units; consumer: its rows read them; other: a bias, a scale. */
  readonly role: "producer" | "consumer" | "other";
}

/** A shape operand (Reshape/Expand shape, Slice bounds, Split sizes) whose values may change. */
export interface ShapeOperand {
  readonly node: Node;
  readonly input: number;
  /** The entries it must have after the removal, from the tracked sizes. */
  readonly expect: (removal: Removal) => ExpectedEntry[];
}

/** What a removal keeps: positions of each tracked axis, and so its new size. */
export interface Removal {
  kept(t: TrackedAxis, p: number): boolean;
  size(t: TrackedAxis): number;
}

/** An entry of a shape operand: the value it must take, or accepted as it is (−1, 0, INT64_MAX). */
export type ExpectedEntry =
  | { readonly kind: "equal"; readonly value: number | string }
  | { readonly kind: "at-least"; readonly value: number };

/** An attribute counting units (num_heads): new value = kept positions / width. */
export interface AttributeUpdate {
  readonly node: Node;
  readonly name: string;
  readonly tracked: TrackedAxis;
  readonly width: number;
}

/** The units one seed couples: everything a removal must edit together. */
export interface UnitGroup {
  readonly seed: Node;
  readonly tracked: ReadonlyMap<Value, TrackedAxis>;
  readonly constants: readonly ConstantSlot[];
  readonly shapeOperands: readonly ShapeOperand[];
  readonly splitAttributes: readonly { node: Node; input: TrackedAxis; sizes: number[] }[];
  readonly attributes: readonly AttributeUpdate[];
  /** Graph inputs and outputs (KV caches) whose declared dim follows a tracked axis. */
  readonly io: readonly TrackedAxis[];
  /** Whether attention (Softmax over heads, a fused attention op) is inside: units are heads. */
  readonly attention: boolean;
  /** For each position id, its class (unit) index. */
  readonly unitOf: Int32Array;
  readonly units: number;
}

const UNARY = new Set([
  "Relu",
  "Gelu",
  "Tanh",
  "Erf",
  "Sigmoid",
  "Sqrt",
  "Neg",
  "Cast",
  "Exp",
  "Log",
  "Abs",
  "Identity",
  "Softplus",
  "Mish",
  "HardSigmoid",
  "HardSwish",
  "LeakyRelu",
  "Elu",
  "Selu",
  "Celu",
  "Reciprocal",
  "Sin",
  "Cos",
  "FastGelu",
  "QuickGelu",
  "BiasGelu",
  "Dropout",
]);
const BROADCAST = new Set(["Add", "Sub", "Mul", "Div", "Pow", "Where", "Max", "Min", "Clip"]);
const SOFTMAX = new Set(["Softmax", "LogSoftmax"]);
const CONTRIB_ELEMENTWISE = new Set([
  "com.microsoft.Gelu",
  "com.microsoft.FastGelu",
  "com.microsoft.QuickGelu",
  "com.microsoft.BiasGelu",
  "com.microsoft.BiasAdd",
]);

class Refusal extends Error {}

/**
 * Traces the units a MatMul/Gemm with a constant weight produces through every op that reads
 * them, forwards and backwards, until each path ends in a layer that contracts them away (the
 * next MatMul's rows), and returns the coupled group, or why it cannot be pruned.
 */
export function traceGroup(seed: Node, graph: Graph): UnitGroup | string {
  const tracer = new Tracer(graph);
  try {
    tracer.seed(seed);
    return tracer.finish(seed);
  } catch (e) {
    if (e instanceof Refusal) return e.message;
    throw e;
  }
}

class Tracer {
  readonly tracked = new Map<Value, TrackedAxis>();
  readonly constants: ConstantSlot[] = [];
  readonly shapeOperands: ShapeOperand[] = [];
  readonly splitAttributes: { node: Node; input: TrackedAxis; sizes: number[] }[] = [];
  readonly attributes: AttributeUpdate[] = [];
  readonly io: TrackedAxis[] = [];
  readonly parent: number[] = [];
  readonly #queue: Node[] = [];
  readonly #graph: Graph;
  attention = false;

  constructor(graph: Graph) {
    this.#graph = graph;
  }

  seed(node: Node): void {
    const out = node.outputs[0];
    if (!out) throw new Refusal("seed has no output");
    const rank = rankOf(out);
    if (rank === undefined) throw new Refusal("output rank unknown (run shape inference)");
    this.track(out, rank - 1);
    this.#drain();
  }

  finish(seed: Node): UnitGroup {
    const unitOf = new Int32Array(this.parent.length);
    const index = new Map<number, number>();
    for (let i = 0; i < this.parent.length; i++) {
      const root = this.find(i);
      let u = index.get(root);
      if (u === undefined) {
        u = index.size;
        index.set(root, u);
      }
      unitOf[i] = u;
    }
    if (!this.constants.some((c) => c.role === "consumer"))
      throw new Refusal("no layer reads the units back (they reach the output)");
    return {
      seed,
      tracked: this.tracked,
      constants: this.constants,
      shapeOperands: this.shapeOperands,
      splitAttributes: this.splitAttributes,
      attributes: this.attributes,
      io: this.io,
      attention: this.attention,
      unitOf,
      units: index.size,
    };
  }

  find(i: number): number {
    let r = i;
    while (this.parent[r] !== r) r = this.parent[r] as number;
    while (this.parent[i] !== r) {
      const next = this.parent[i] as number;
      this.parent[i] = r;
      i = next;
    }
    return r;
  }

  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }

  /** Marks `value`'s `axis` as carrying the units (once; a second axis is refused). */
  track(value: Value, axis: number): TrackedAxis {
    const known = this.tracked.get(value);
    if (known) {
      if (known.axis !== axis)
        throw new Refusal(`"${value.name}" would carry the units on two axes`);
      return known;
    }
    const dims = dimsOf(value);
    const size = dims?.[axis];
    if (typeof size !== "number")
      throw new Refusal(`"${value.name}" has no static size on the units' axis`);
    const base = this.parent.length;
    for (let i = 0; i < size; i++) this.parent.push(base + i);
    const t: TrackedAxis = { value, axis, size, base };
    this.tracked.set(value, t);
    if (this.#graph.inputs.includes(value) || this.#graph.outputs.includes(value)) {
      if (axis === (dims?.length ?? 0) - 1 || (dims?.length ?? 0) < 3)
        throw new Refusal(
          `the units reach the graph's ${this.#graph.inputs.includes(value) ? "input" : "output"} "${value.name}"`,
        );
      this.io.push(t);
    }
    if (value.isConstant) throw new Refusal(`constant "${value.name}" reached as data`);
    const producer = value.producer();
    if (producer) this.#queue.push(producer);
    for (const use of value.uses()) {
      if (use.node.graph !== this.#graph)
        throw new Refusal(`"${value.name}" is read inside a subgraph`);
      this.#queue.push(use.node);
    }
    return t;
  }

  /** Position p of a ↔ position map(p) of b, for every p. */
  link(a: TrackedAxis, b: TrackedAxis, map: (p: number) => number | undefined): void {
    for (let p = 0; p < a.size; p++) {
      const q = map(p);
      if (q !== undefined && q >= 0 && q < b.size) this.union(a.base + p, b.base + q);
    }
  }

  #drain(): void {
    for (let node = this.#queue.pop(); node; node = this.#queue.pop()) {
      // A node is revisited only when it gains a tracked value it did not have.
      const key = node;
      const count = [...node.inputs, ...node.outputs].filter(
        (v) => v && this.tracked.has(v),
      ).length;
      const seen = this.#seenCount.get(key);
      if (seen === count) continue;
      this.#seenCount.set(key, count);
      this.#visit(node);
    }
  }

  readonly #seenCount = new Map<Node, number>();

  #visit(node: Node): void {
    const op =
      node.domain === "" || node.domain === "ai.onnx"
        ? node.opType
        : `${node.domain}.${node.opType}`;
    if (op === "Shape" || op === "Size") return; // reads the shape only; checked through the shape operands
    if (op === "Constant") return;
    if (CONTRIB_ELEMENTWISE.has(op)) {
      // activations with an optional bias over the last axis (ORT's fusions of Add + Gelu)
      this.#elementwise(
        node,
        node.inputs.map((_, i) => i),
      );
      return;
    }
    if (UNARY.has(op) || SOFTMAX.has(op)) {
      this.#elementwise(node, [0]);
      if (SOFTMAX.has(op)) {
        const t = this.tracked.get(node.outputs[0] as Value);
        const rank = rankOf(node.outputs[0] as Value) ?? 0;
        const axis = normalize(node.getInt("axis", -1), rank);
        if (t && t.axis === axis)
          throw new Refusal(`${op} "${node.name}" normalizes over the units`);
        this.attention = true;
      }
      return;
    }
    if (BROADCAST.has(op)) {
      this.#elementwise(
        node,
        node.inputs.map((_, i) => i),
      );
      return;
    }
    switch (op) {
      case "Transpose":
        this.#transpose(node);
        return;
      case "Reshape":
      case "Flatten":
        this.#reshape(node);
        return;
      case "Unsqueeze":
      case "Squeeze":
        this.#squeeze(node);
        return;
      case "Expand":
        this.#expand(node);
        return;
      case "Split":
        this.#split(node);
        return;
      case "Slice":
        this.#slice(node);
        return;
      case "Concat":
        this.#concat(node);
        return;
      case "MatMul":
        this.#matmul(node);
        return;
      case "Gemm":
        this.#gemm(node);
        return;
      case "com.microsoft.MultiHeadAttention":
      case "com.microsoft.GroupQueryAttention":
        this.#fusedAttention(node);
        return;
      default:
        throw new Refusal(`${op} "${node.name}" reads the units' axis`);
    }
  }

  /** Elementwise with broadcasting: a tracked output axis ↔ each input's aligned axis. */
  #elementwise(node: Node, inputs: readonly number[]): void {
    const out = node.outputs[0] as Value;
    const rank = rankOf(out);
    if (rank === undefined) throw new Refusal(`"${out.name}" has an unknown rank`);
    let axis = this.tracked.get(out)?.axis;
    for (const i of inputs) {
      const v = node.inputs[i];
      const t = v && this.tracked.get(v);
      if (t) axis ??= t.axis + rank - (rankOf(v) ?? 0);
    }
    if (axis === undefined) return;
    const to = this.track(out, axis);
    for (const i of inputs) {
      const v = node.inputs[i];
      if (!v) continue;
      const r = v.isConstant || constantOf(v) ? (constantOf(v)?.dims.length ?? 0) : rankOf(v);
      if (r === undefined) throw new Refusal(`"${v.name}" has an unknown rank`);
      const a = axis - (rank - r);
      if (a < 0) continue;
      const dim = constantOf(v) ? constantOf(v)?.dims[a] : dimsOf(v)?.[a];
      if (dim === 1) continue; // broadcast along the units
      const tensor = constantOf(v);
      if (tensor) {
        if (node.opType === "Where" && i === 0)
          throw new Refusal(`Where "${node.name}" selects per unit`);
        this.#constant(node, i, tensor, a, to, "other");
        continue;
      }
      this.link(to, this.track(v, a), (p) => p);
    }
    if (node.opType === "Dropout" || node.outputs.length > 1) {
      for (const extra of node.outputs.slice(1))
        if (extra.uses().length > 0)
          throw new Refusal(`${node.opType} "${node.name}" has a second output in use`);
    }
  }

  #constant(
    node: Node,
    input: number,
    tensor: Tensor,
    axis: number,
    tracked: TrackedAxis,
    role: ConstantSlot["role"],
  ): void {
    if (tensor.dims[axis] !== tracked.size)
      throw new Refusal(`constant "${node.inputs[input]?.name}" does not match the units`);
    const value = node.inputs[input] as Value;
    if (value.uses().length > 1)
      throw new Refusal(`constant "${value.name}" is shared with other nodes`);
    if (this.constants.some((c) => c.node === node && c.input === input)) return;
    this.constants.push({ node, input, tensor, axis, tracked, role });
  }

  #transpose(node: Node): void {
    const input = node.inputs[0] as Value;
    const out = node.outputs[0] as Value;
    const rank = rankOf(input) ?? 0;
    const perm = node.getInts(
      "perm",
      Array.from({ length: rank }, (_, i) => rank - 1 - i),
    );
    const tIn = this.tracked.get(input);
    const tOut = this.tracked.get(out);
    if (tIn) this.link(tIn, this.track(out, perm.indexOf(tIn.axis)), (p) => p);
    else if (tOut) this.link(this.track(input, perm[tOut.axis] as number), tOut, (p) => p);
  }

  /**
   * Reshape maps the units' axis by strides: position x of the input covers the flat range
   * [x·stride, (x+1)·stride) inside the axis' span; the output axis with the same span (or the
   * outer axis of a split) takes the positions whose ranges overlap.
   */
  #reshape(node: Node): void {
    const input = node.inputs[0] as Value;
    const out = node.outputs[0] as Value;
    const inDims = dimsOf(input);
    const outDims = dimsOf(out);
    if (!inDims || !outDims) throw new Refusal(`Reshape "${node.name}": shapes unknown`);
    const tIn = this.tracked.get(input);
    const tOut = this.tracked.get(out);
    const [from, fromDims, toValue, toDims] = tIn
      ? [tIn, inDims, out, outDims]
      : [tOut as TrackedAxis, outDims, input, inDims];
    const strideFrom = productOf(fromDims.slice(from.axis + 1));
    const span = productOf(fromDims.slice(from.axis));
    if (!strideFrom || !span) throw new Refusal(`Reshape "${node.name}": dims unknown`);
    let match: { axis: number; stride: number } | undefined;
    for (let a = 0; a < toDims.length; a++) {
      const s = productOf(toDims.slice(a + 1));
      const sp = productOf(toDims.slice(a));
      if (!s || !sp) continue;
      const sameSpan = ratio(sp, span);
      const strideRatio = ratio(s, strideFrom);
      if (sameSpan === 1 && strideRatio !== undefined && toDims[a] !== 1) {
        match = { axis: a, stride: strideRatio };
        break;
      }
    }
    if (!match) throw new Refusal(`Reshape "${node.name}" mixes the units with other axes`);
    const to = this.track(toValue, match.axis);
    const r = match.stride; // stride of `to` in units of `from`'s stride
    if (r >= 1) {
      // a split: position q of `to` covers r positions of `from`
      for (let q = 0; q < to.size; q++)
        for (let k = 0; k < r; k++) this.union(to.base + q, from.base + q * r + k);
    } else {
      // a merge: 1/r positions of `to` fall in each position of `from`
      const inverse = Math.round(1 / r);
      this.link(to, from, (y) => Math.floor(y / inverse));
    }
    if (node.opType === "Reshape") {
      const inT = this.tracked.get(input) as TrackedAxis;
      const outT = this.tracked.get(out) as TrackedAxis;
      this.#shapeOperand(node, 1, (removal) => {
        const old = evaluate(node.inputs[1]);
        if (!old) throw new Refusal(`Reshape "${node.name}": its shape cannot be evaluated`);
        return old.map((entry, i) => {
          if (entry === -1) return { kind: "equal", value: -1 };
          if (entry === 0 && node.getInt("allowzero", 0) === 0) {
            if (i === outT.axis && inT.axis !== i)
              throw new Refusal(`Reshape "${node.name}" copies a dim (0) onto the units`);
            return { kind: "equal", value: 0 };
          }
          return i === outT.axis
            ? { kind: "equal", value: removal.size(outT) }
            : { kind: "equal", value: entry };
        });
      });
    }
  }

  #shapeOperand(node: Node, input: number, expect: ShapeOperand["expect"]): void {
    if (this.shapeOperands.some((s) => s.node === node && s.input === input)) return;
    this.shapeOperands.push({ node, input, expect });
  }

  #squeeze(node: Node): void {
    const input = node.inputs[0] as Value;
    const out = node.outputs[0] as Value;
    const inRank = rankOf(input);
    const outRank = rankOf(out);
    if (inRank === undefined || outRank === undefined)
      throw new Refusal(`${node.opType} "${node.name}": rank unknown`);
    const raw = node.attributes.has("axes")
      ? node.getInts("axes", [])
      : constantNumbers(node.inputs[1]);
    if (!raw) throw new Refusal(`${node.opType} "${node.name}": axes not constant`);
    const squeeze = node.opType === "Squeeze";
    const axes = raw.map((a) => normalize(a, squeeze ? inRank : outRank));
    // kept[i] = the input axis that output axis i is (−1 for an inserted one)
    const map: number[] = [];
    if (squeeze)
      for (let a = 0; a < inRank; a++) {
        if (!axes.includes(a)) map.push(a);
      }
    else for (let a = 0, i = 0; a < outRank; a++) map.push(axes.includes(a) ? -1 : i++);
    const tIn = this.tracked.get(input);
    const tOut = this.tracked.get(out);
    if (tIn) {
      const a = map.indexOf(tIn.axis);
      if (a < 0) throw new Refusal(`Squeeze "${node.name}" removes the units' axis`);
      this.link(tIn, this.track(out, a), (p) => p);
    } else if (tOut) this.link(this.track(input, map[tOut.axis] as number), tOut, (p) => p);
  }

  #expand(node: Node): void {
    const input = node.inputs[0] as Value;
    const out = node.outputs[0] as Value;
    const inRank = rankOf(input) ?? 0;
    const outRank = rankOf(out) ?? 0;
    const tIn = this.tracked.get(input);
    const tOut = this.tracked.get(out);
    const outAxis = tIn ? tIn.axis + outRank - inRank : (tOut as TrackedAxis).axis;
    const inAxis = outAxis - (outRank - inRank);
    if (inAxis < 0 || dimsOf(input)?.[inAxis] === 1)
      throw new Refusal(`Expand "${node.name}" broadcasts along the units`);
    const a = this.track(input, inAxis);
    const b = this.track(out, outAxis);
    this.link(a, b, (p) => p);
    this.#shapeOperand(node, 1, (removal) => {
      const old = evaluate(node.inputs[1]);
      if (!old) throw new Refusal(`Expand "${node.name}": its shape cannot be evaluated`);
      const offset = outRank - old.length;
      return old.map((entry, i) =>
        i + offset === outAxis
          ? entry === 1 || entry === -1
            ? { kind: "equal", value: entry }
            : { kind: "equal", value: removal.size(b) }
          : { kind: "equal", value: entry },
      );
    });
  }

  #split(node: Node): void {
    const input = node.inputs[0] as Value;
    const rank = rankOf(input) ?? 0;
    const axis = normalize(node.getInt("axis", 0), rank);
    const tIn = this.tracked.get(input) ?? this.#trackedInputOf(node);
    if (!tIn) return;
    if (tIn.axis !== axis) {
      for (const out of node.outputs) this.link(tIn, this.track(out, tIn.axis), (p) => p);
      return;
    }
    const sizes = node.outputs.map((o) => dimsOf(o)?.[axis]);
    if (sizes.some((s) => typeof s !== "number"))
      throw new Refusal(`Split "${node.name}": sizes unknown`);
    let offset = 0;
    const outs = node.outputs.map((o, i) => {
      const t = this.track(o, axis);
      const start = offset;
      this.link(tIn, t, (p) => p - start);
      offset += sizes[i] as number;
      return { t, start };
    });
    if (node.attributes.has("split")) {
      this.splitAttributes.push({ node, input: tIn, sizes: sizes as number[] });
    } else if (node.inputs[1]) {
      this.#shapeOperand(node, 1, (removal) =>
        outs.map(({ t }) => ({ kind: "equal", value: removal.size(t) })),
      );
    }
  }

  /** The tracked input of a node reached from one of its outputs: tracks the input first. */
  #trackedInputOf(node: Node): TrackedAxis | undefined {
    const input = node.inputs[0] as Value;
    const out = node.outputs.find((o) => this.tracked.has(o));
    if (!out) return undefined;
    const t = this.tracked.get(out) as TrackedAxis;
    return this.track(input, t.axis);
  }

  #slice(node: Node): void {
    const input = node.inputs[0] as Value;
    const out = node.outputs[0] as Value;
    const rank = rankOf(input) ?? 0;
    const tIn = this.tracked.get(input) ?? this.#trackedInputOf(node);
    if (!tIn) return;
    if (node.inputs.length < 3)
      throw new Refusal(`Slice "${node.name}" (attribute form) on the units`);
    const axes = node.inputs[3]
      ? evaluate(node.inputs[3])
      : Array.from({ length: rank }, (_, i) => i);
    const starts = evaluate(node.inputs[1]);
    const ends = evaluate(node.inputs[2]);
    const steps = node.inputs[4] ? evaluate(node.inputs[4]) : undefined;
    if (!axes || !starts || !ends)
      throw new Refusal(`Slice "${node.name}": bounds cannot be evaluated`);
    const k = axes.findIndex((a) => typeof a === "number" && normalize(a, rank) === tIn.axis);
    if (k < 0) {
      this.link(tIn, this.track(out, tIn.axis), (p) => p);
      return;
    }
    const start = starts[k];
    const end = ends[k];
    if (typeof start !== "number" || typeof end !== "number" || (steps && steps[k] !== 1))
      throw new Refusal(`Slice "${node.name}" cuts the units at a place it cannot compute`);
    const s = start < 0 ? start + tIn.size : Math.min(start, tIn.size);
    const e = end < 0 ? end + tIn.size : Math.min(end, tIn.size);
    const t = this.track(out, tIn.axis);
    if (t.size !== e - s)
      throw new Refusal(`Slice "${node.name}": bounds disagree with the shapes`);
    this.link(t, tIn, (p) => p + s);
    // the new bounds: the kept positions before the old ones
    const before = (removal: Removal, bound: number) => {
      let n = 0;
      for (let p = 0; p < bound; p++) if (removal.kept(tIn, p)) n++;
      return n;
    };
    const entry = (v: Entry | undefined): ExpectedEntry => ({ kind: "equal", value: v ?? 0 });
    this.#shapeOperand(node, 1, (removal) =>
      starts.map((v, i) => (i === k ? { kind: "equal", value: before(removal, s) } : entry(v))),
    );
    this.#shapeOperand(node, 2, (removal) =>
      ends.map((v, i) =>
        i !== k
          ? entry(v)
          : end >= tIn.size
            ? { kind: "at-least", value: removal.size(tIn) }
            : { kind: "equal", value: before(removal, e) },
      ),
    );
  }

  #concat(node: Node): void {
    const out = node.outputs[0] as Value;
    const rank = rankOf(out) ?? 0;
    const axis = normalize(node.getInt("axis", 0), rank);
    let unitAxis = this.tracked.get(out)?.axis;
    for (const v of node.inputs)
      if (v && this.tracked.has(v)) unitAxis ??= this.tracked.get(v)?.axis;
    if (unitAxis === undefined) return;
    const to = this.track(out, unitAxis);
    let offset = 0;
    for (const v of node.inputs) {
      if (!v) continue;
      if (constantOf(v)) throw new Refusal(`Concat "${node.name}" joins the units with a constant`);
      const t = this.track(v, unitAxis);
      const start = offset;
      this.link(t, to, axis === unitAxis ? (p) => p + start : (p) => p);
      if (axis === unitAxis) offset += t.size;
    }
  }

  /** Whether `value` is computed from the graph's data (an activation), not a weight given at run time. */
  #isActivation(value: Value): boolean {
    return value.producer() !== undefined || this.tracked.has(value);
  }

  /** MatMul: batch axes and the row axis pass through; the contracted axis meets the weight's rows. */
  #matmul(node: Node): void {
    const [a, b] = node.inputs as [Value, Value];
    const out = node.outputs[0] as Value;
    const ra = rankOf(a);
    const rb = constantOf(b)?.dims.length ?? rankOf(b);
    const ro = rankOf(out);
    if (ra === undefined || rb === undefined || ro === undefined || ra < 2 || rb < 2)
      throw new Refusal(`MatMul "${node.name}": ranks unknown or 1-d`);
    const weight = constantOf(b);
    const tA = this.tracked.get(a);
    const tB = weight ? undefined : this.tracked.get(b);
    const tO = this.tracked.get(out);
    // the contracted axis
    if (tA?.axis === ra - 1) {
      if (!weight && !this.#isActivation(b))
        throw new Refusal(
          "the layer reading the units has a weight computed at run time (not a constant)",
        );
      if (weight) this.#constant(node, 1, weight, rb - 2, tA, "consumer");
      else this.link(tA, this.track(b, rb - 2), (p) => p);
    } else if (tB?.axis === rb - 2) this.link(tB, this.track(a, ra - 1), (p) => p);
    // the output's column axis comes from b
    if (tO?.axis === ro - 1 || tB?.axis === rb - 1) {
      const o = this.track(out, ro - 1);
      if (weight) this.#constant(node, 1, weight, rb - 1, o, "producer");
      else this.link(o, this.track(b, rb - 1), (p) => p);
    }
    // the row axis and the batch axes come from a (and b's batch axes)
    const fromA = tA && tA.axis < ra - 1 ? tA.axis + ro - ra : undefined;
    const fromB = tB && tB.axis < rb - 2 ? tB.axis + ro - rb : undefined;
    const outAxis = tO && tO.axis < ro - 1 ? tO.axis : (fromA ?? fromB);
    if (outAxis === undefined) return;
    const o = this.track(out, outAxis);
    const aAxis = outAxis - (ro - ra);
    if (aAxis >= 0 && dimsOf(a)?.[aAxis] !== 1) this.link(o, this.track(a, aAxis), (p) => p);
    if (outAxis < ro - 2) {
      const bAxis = outAxis - (ro - rb);
      const bDim = weight ? weight.dims[bAxis] : dimsOf(b)?.[bAxis];
      if (bAxis >= 0 && bDim !== 1) {
        if (weight) throw new Refusal(`MatMul "${node.name}": a batched constant along the units`);
        this.link(o, this.track(b, bAxis), (p) => p);
      }
    }
  }

  #gemm(node: Node): void {
    const [a, b, c] = node.inputs as [Value, Value, Value | undefined];
    const out = node.outputs[0] as Value;
    if (node.getInt("transA", 0) !== 0) throw new Refusal(`Gemm "${node.name}" with transA`);
    const weight = constantOf(b);
    if (!weight)
      throw new Refusal(`Gemm "${node.name}": weight is computed at run time (not a constant)`);
    const trans = node.getInt("transB", 0) !== 0;
    const tA = this.tracked.get(a);
    const tO = this.tracked.get(out);
    if (tA?.axis === 1) this.#constant(node, 1, weight, trans ? 1 : 0, tA, "consumer");
    if (tA?.axis === 0 || tO?.axis === 0)
      throw new Refusal(`Gemm "${node.name}" on the units' rows`);
    if (tO?.axis === 1) {
      this.#constant(node, 1, weight, trans ? 0 : 1, tO, "producer");
      const bias = constantOf(c);
      if (c && !bias) throw new Refusal(`Gemm "${node.name}": bias is computed at run time`);
      if (bias && bias.dims[bias.dims.length - 1] !== 1 && bias.dims.length > 0)
        this.#constant(node, 2, bias, bias.dims.length - 1, tO, "other");
    }
  }

  /**
   * MultiHeadAttention / GroupQueryAttention on [batch, sequence, heads·head] operands: a query
   * head goes with its output head and with the key/value head it reads (head / group), and
   * num_heads / kv_num_heads follow the kept heads.
   */
  #fusedAttention(node: Node): void {
    this.attention = true;
    const gqa = node.opType === "GroupQueryAttention";
    const heads = node.getInt("num_heads", 0);
    const kvHeads = gqa ? node.getInt("kv_num_heads", 0) : heads;
    if (!heads || !kvHeads) throw new Refusal(`${node.opType} "${node.name}": head count unknown`);
    const [q, k, v] = node.inputs as [Value, Value | undefined, Value | undefined];
    if (!k || !v) throw new Refusal(`${node.opType} "${node.name}": packed QKV input`);
    for (const x of [q, k, v])
      if (rankOf(x) !== 3) throw new Refusal(`${node.opType} "${node.name}": 4-D query/key/value`);
    if (!gqa && node.inputs[3])
      throw new Refusal(`MultiHeadAttention "${node.name}" with a packed bias`);
    const tq = this.track(q, 2);
    const tk = this.track(k, 2);
    const tv = this.track(v, 2);
    const out = this.track(node.outputs[0] as Value, 2);
    const hq = tq.size / heads;
    const hk = tk.size / kvHeads;
    const hv = tv.size / kvHeads;
    const group = heads / kvHeads;
    const headOf = (t: TrackedAxis, width: number) => (u: number) => {
      for (let j = 1; j < width; j++) this.union(t.base + u * width, t.base + u * width + j);
      return t.base + u * width;
    };
    for (let u = 0; u < heads; u++) {
      const kv = Math.floor(u / group);
      const qh = headOf(tq, hq)(u);
      this.union(qh, headOf(out, hv)(u));
      this.union(qh, headOf(tk, hk)(kv));
      this.union(qh, headOf(tv, hv)(kv));
    }
    const caches = gqa
      ? [
          [3, 1],
          [4, 2],
        ]
      : [
          [6, 1],
          [7, 2],
        ];
    for (const [input, output] of caches) {
      const past = node.inputs[input as number];
      const present = node.outputs[output as number];
      for (const cache of [past, present]) {
        if (
          !cache ||
          (cache === present && cache.uses().length === 0 && !this.#graph.outputs.includes(cache))
        )
          continue;
        const t = this.track(cache, 1);
        for (let kv = 0; kv < kvHeads; kv++) this.union(t.base + kv, tk.base + kv * hk);
      }
    }
    this.attributes.push({ node, name: "num_heads", tracked: tq, width: hq });
    if (gqa) this.attributes.push({ node, name: "kv_num_heads", tracked: tk, width: hk });
  }
}

export function rankOf(value: Value): number | undefined {
  return dimsOf(value)?.length;
}

export function dimsOf(value: Value): readonly Dim[] | undefined {
  const tensor = constantOf(value);
  if (tensor) return tensor.dims;
  const type = value.type;
  const dims = type?.kind === "tensor" ? type.shape?.dims : undefined;
  if (dims && !dims.includes(null)) return dims;
  return (
    expandedDims(value, dims) ??
    reshapedDims(value, dims) ??
    movedDims(value, dims) ??
    broadcastDims(value, dims) ??
    dims
  );
}

/** A Transpose's or MatMul's output dims from its inputs', where inference left gaps. */
function movedDims(value: Value, inferred: readonly Dim[] | undefined): readonly Dim[] | undefined {
  const node = value.producer();
  const fill = (dims: readonly Dim[]) =>
    dims.map((d, i) => (inferred?.[i] !== undefined && inferred[i] !== null ? inferred[i] : d));
  if (node?.opType === "Transpose" && node.inputs[0]) {
    const input = dimsOf(node.inputs[0]);
    if (!input) return undefined;
    const perm = node.getInts(
      "perm",
      input.map((_, i) => input.length - 1 - i),
    );
    return fill(perm.map((p) => input[p] ?? null));
  }
  if (node?.opType === "MatMul" && node.inputs[0] && node.inputs[1]) {
    const a = dimsOf(node.inputs[0]);
    const b = dimsOf(node.inputs[1]);
    if (!a || !b || a.length < 2 || b.length < 2) return undefined;
    const rank = Math.max(a.length, b.length);
    const batch: Dim[] = [];
    for (let i = 0; i < rank - 2; i++) {
      const x = i - (rank - a.length) < 0 ? 1 : (a[i - (rank - a.length)] as Dim);
      const y = i - (rank - b.length) < 0 ? 1 : (b[i - (rank - b.length)] as Dim);
      batch.push(x === 1 ? y : y === 1 || x === y ? x : null);
    }
    return fill([...batch, a[a.length - 2] as Dim, b[b.length - 1] as Dim]);
  }
  return undefined;
}

/**
 * A Reshape's output dims from its evaluated shape operand, where inference left gaps: 0 copies
 * the input's dim, −1 is what the input's dims leave once the others are matched.
 */
function reshapedDims(
  value: Value,
  inferred: readonly Dim[] | undefined,
): readonly Dim[] | undefined {
  const node = value.producer();
  if (node?.opType !== "Reshape" || !node.inputs[0]) return undefined;
  const shape = evaluate(node.inputs[1]);
  if (!shape) return undefined;
  const input = dimsOf(node.inputs[0]);
  const copies = node.getInt("allowzero", 0) === 0;
  const resolved: Dim[] = shape.map((entry, i) => {
    if (entry === 0 && copies) return input?.[i] ?? null;
    if (entry === -1) return null;
    return typeof entry === "number" || !entry.startsWith("(") ? entry : null;
  });
  const wildcard = shape.indexOf(-1);
  if (wildcard >= 0 && input) {
    const remaining: (Dim | undefined)[] = [...input];
    const unmatched: Dim[] = [];
    shape.forEach((entry, i) => {
      if (i === wildcard) return;
      if (entry === 0 && copies) {
        remaining[i] = undefined;
        return;
      }
      const d = resolved[i] as Dim;
      const at = remaining.findIndex((r) => r !== undefined && r !== null && r === d);
      if (at >= 0) remaining[at] = undefined;
      else unmatched.push(d);
    });
    const rest = productOf(remaining.filter((r): r is Dim => r !== undefined));
    const other = productOf(unmatched);
    const quotient =
      rest && other
        ? ratio(rest, { coefficient: other.coefficient, symbols: rest.symbols })
        : undefined;
    if (
      rest &&
      other &&
      other.symbols.length === 0 &&
      rest.symbols.length === 0 &&
      quotient !== undefined
    )
      resolved[wildcard] = quotient;
    else if (
      rest &&
      other &&
      other.coefficient === 1 &&
      other.symbols.length === 0 &&
      rest.coefficient === 1 &&
      rest.symbols.length === 1
    )
      resolved[wildcard] = rest.symbols[0] as string;
  }
  return resolved.map((d, i) => {
    const known = inferred?.[i];
    return known !== undefined && known !== null ? known : d;
  });
}

/** An elementwise op's output dims by broadcasting its inputs' dims, when inference left gaps. */
function broadcastDims(
  value: Value,
  inferred: readonly Dim[] | undefined,
  depth = 0,
): readonly Dim[] | undefined {
  const node = value.producer();
  if (
    !node ||
    depth > 8 ||
    !(BROADCAST.has(node.opType) || UNARY.has(node.opType) || SOFTMAX.has(node.opType))
  )
    return undefined;
  const inputs = node.inputs.filter((v): v is Value => v !== undefined).map((v) => dimsOf(v));
  if (inputs.some((d) => !d)) return undefined;
  const rank = Math.max(...inputs.map((d) => (d as readonly Dim[]).length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const known = inferred?.[i];
    if (known !== undefined && known !== null) {
      out.push(known);
      continue;
    }
    let dim: Dim = 1;
    for (const d of inputs as (readonly Dim[])[]) {
      const at = i - (rank - d.length);
      const x = at < 0 ? 1 : (d[at] as Dim);
      if (x === 1) continue;
      if (dim === 1) dim = x;
      else if (dim !== x) dim = null;
    }
    out.push(dim);
  }
  return out;
}

/**
 * An Expand's output dims from its shape operand when inference left them unknown (the
 * opset-9 `expand` symbolic maps −1 to 1 through Where/Equal, which inference does not read):
 * each entry broadcast against the input's dim.
 */
function expandedDims(
  value: Value,
  inferred: readonly Dim[] | undefined,
): readonly Dim[] | undefined {
  const node = value.producer();
  if (node?.opType !== "Expand" || !node.inputs[0]) return undefined;
  const input = dimsOf(node.inputs[0]);
  const shape = evaluate(node.inputs[1]);
  if (!input || !shape) return undefined;
  const rank = Math.max(input.length, shape.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const a = input[i - (rank - input.length)] ?? 1;
    const e = shape[i - (rank - shape.length)] ?? 1;
    const known = inferred?.[i];
    out.push(
      known !== undefined && known !== null
        ? known
        : e === 1
          ? a
          : a === 1 || a === e
            ? e
            : typeof e === "number"
              ? e
              : null,
    );
  }
  return out;
}

function normalize(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}
