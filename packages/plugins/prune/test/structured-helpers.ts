import {
  createCpuSessions,
  type DataRecord,
  DataType,
  decodeModel,
  encodeModel,
  generateInputs,
  type Model,
  Tensor,
  type TensorType,
  type ValueSignature,
} from "@lathe/core";

export const sessions = createCpuSessions();

export function clone(model: Model): Model {
  return decodeModel(encodeModel(model));
}

/** Inputs for every graph input: symbolic dims bound by name (batch 2, sequence 5, past 3, …). */
export function feedsFor(model: Model, seed = 1, dims: Record<string, number> = {}): DataRecord {
  const signature: ValueSignature[] = model.graph.inputs
    .filter((v) => !model.graph.initializers.has(v.name))
    .map((v) => {
      const type = v.type as TensorType;
      return {
        name: v.name,
        dataType: type.elemType,
        dims: (type.shape?.dims ?? []).map((d) => (d === null ? "unknown" : d)),
      };
    });
  const names = new Set(
    signature.flatMap((s) => s.dims.filter((d): d is string => typeof d === "string")),
  );
  // with a KV cache: a decoding step, one new token after 3 cached ones
  const step = signature.some((s) => /past/i.test(s.name));
  const bound: Record<string, number> = {};
  for (const name of names) {
    if (/\+/.test(name) || /total/i.test(name)) continue;
    if (/past/i.test(name)) bound[name] = 3;
    else if (/batch|steps/i.test(name)) bound[name] = 2;
    else if (/height|width/i.test(name)) bound[name] = 8;
    else bound[name] = step ? 1 : 5;
  }
  // token ids below every vocabulary of the zoo and the corpus
  const feeds = generateInputs(signature, {
    dims: { ...bound, ...dims },
    seed,
    past: 3,
    vocabSize: 64,
  });
  return Object.fromEntries(
    Object.entries(feeds).map(([name, t]) => [name, /past/i.test(name) ? sameHeads(t) : t]),
  );
}

/**
 * A KV cache whose heads all hold head 0's keys/values: the pruned model, which has fewer
 * heads, reads the same cache cut to its head count (`fitTo`), whichever heads it removed.
 */
function sameHeads(t: Tensor): Tensor {
  if (t.dims.length !== 4) return t;
  const [b = 0, n = 0, p = 0, h = 0] = t.dims;
  const values = Float32Array.from(t.toArray() as Float32Array);
  for (let i = 0; i < b; i++)
    for (let k = 1; k < n; k++)
      values.copyWithin((i * n + k) * p * h, i * n * p * h, (i * n + 1) * p * h);
  return Tensor.fromArray(t.dataType, t.dims, values);
}

/** The feeds cut to `model`'s static input dims (a pruned model's smaller KV cache). */
export function fitTo(feeds: DataRecord, model: Model): DataRecord {
  const out: Record<string, Tensor> = { ...feeds };
  for (const input of model.graph.inputs) {
    const t = feeds[input.name];
    const dims = (input.type as TensorType | undefined)?.shape?.dims;
    if (!t || !dims || t.dims.length !== 4) continue;
    const axis = dims.findIndex((d, i) => typeof d === "number" && d !== t.dims[i]);
    if (axis !== 1) continue;
    const [b = 0, n = 0, p = 0, h = 0] = t.dims;
    const k = dims[1] as number;
    const values = t.toArray() as Float32Array;
    const cut = new Float32Array(b * k * p * h);
    for (let i = 0; i < b; i++)
      cut.set(values.subarray(i * n * p * h, (i * n + k) * p * h), i * k * p * h);
    out[input.name] = Tensor.fromArray(t.dataType, [b, k, p, h], cut);
  }
  return out;
}

export async function run(model: Model, feeds: DataRecord): Promise<DataRecord> {
  const [out] = await sessions.run(model, [feeds]);
  return out as DataRecord;
}

/** Largest |a − b| over every output both records have. */
export function maxAbsDiff(a: DataRecord, b: DataRecord): number {
  let diff = 0;
  for (const [name, x] of Object.entries(a)) {
    const y = b[name];
    // present.* caches have the pruned head count: the logits carry the comparison
    if (!y || x.dataType !== DataType.FLOAT || /present/.test(name)) continue;
    const xs = x.toArray() as Float32Array;
    const ys = y.toArray() as Float32Array;
    if (xs.length !== ys.length) return Number.POSITIVE_INFINITY;
    for (let i = 0; i < xs.length; i++)
      diff = Math.max(diff, Math.abs((xs[i] as number) - (ys[i] as number)));
  }
  return diff;
}

/**
 * The reference the issue asks for, built in TypeScript without the pass's graph surgery: for
 * every weight the pass shrank (found by name), the original entries it dropped are located
 * (the kept ones are copied exactly) and set to zero in the original model. A removed channel
 * or head then contributes nothing (its producing columns, biases and reading rows are zero), so
 * the original with those zeros computes what the pruned model must compute.
 */
export function zeroedReference(original: Model, pruned: Model): { model: Model; zeroed: number } {
  const reference = clone(original);
  const prunedInits = pruned.graph.initializers;
  let zeroed = 0;
  for (const [name, value] of reference.graph.initializers) {
    const before = value.constValue as Tensor | undefined;
    const after = prunedInits.get(name)?.constValue as Tensor | undefined;
    if (!before || !after || before.dataType !== DataType.FLOAT) continue;
    if (before.dims.length !== after.dims.length) continue;
    const axes = before.dims.map((d, i) => d !== after.dims[i]);
    if (!axes.includes(true)) continue;
    const values = Float32Array.from(before.toArray() as Float32Array);
    if (axes.filter(Boolean).length === 2 && before.dims.length === 2) {
      // rows and columns both shrunk (a layer reading one group's units and producing another's)
      const { rows, cols } = keptRowsAndColumns(before, after);
      const [, n = 0] = before.dims;
      for (let i = 0; i < values.length; i++)
        if (!rows.has(Math.floor(i / n)) || !cols.has(i % n)) values[i] = 0;
      zeroed += 1;
    } else {
      const axis = axes.indexOf(true);
      const removed = droppedEntries(before, after, axis);
      const size = before.dims[axis] as number;
      const inner = before.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
      for (let i = 0; i < values.length; i++)
        if (removed.has(Math.floor(i / inner) % size)) values[i] = 0;
      zeroed += removed.size;
    }
    value.constValue = Tensor.fromArray(DataType.FLOAT, before.dims, values, { name });
  }
  return { model: reference, zeroed };
}

/** Kept rows and columns of a 2-D weight shrunk on both axes: each kept row is an ordered subsequence of an original one. */
function keptRowsAndColumns(
  before: Tensor,
  after: Tensor,
): { rows: Set<number>; cols: Set<number> } {
  const [m = 0, n = 0] = before.dims;
  const [m2 = 0, n2 = 0] = after.dims;
  const b = before.toArray() as Float32Array;
  const a = after.toArray() as Float32Array;
  const subsequence = (i: number, j: number): number[] | undefined => {
    const cols: number[] = [];
    let c = 0;
    for (let k = 0; k < n2; k++) {
      while (c < n && b[i * n + c] !== a[j * n2 + k]) c++;
      if (c >= n) return undefined;
      cols.push(c++);
    }
    return cols;
  };
  const rows = new Set<number>();
  let cols: number[] | undefined;
  let i = 0;
  for (let j = 0; j < m2; j++) {
    let found = i < m ? subsequence(i, j) : undefined;
    while (i < m && !found) {
      i++;
      found = i < m ? subsequence(i, j) : undefined;
    }
    if (!found) throw new Error(`pruned row ${j} is not an original one`);
    cols ??= found;
    rows.add(i++);
  }
  return { rows, cols: new Set(cols) };
}

/** The entries of `axis` of `before` that `after` (a subset, in order) does not have. */
function droppedEntries(before: Tensor, after: Tensor, axis: number): Set<number> {
  const slice = (t: Tensor, k: number) => {
    const size = t.dims[axis] as number;
    const inner = t.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    const values = t.toArray() as Float32Array;
    const out: number[] = [];
    for (let i = 0; i < values.length; i++)
      if (Math.floor(i / inner) % size === k) out.push(values[i] as number);
    return out;
  };
  const kept = new Set<number>();
  let i = 0;
  for (let j = 0; j < (after.dims[axis] as number); j++) {
    const target = slice(after, j);
    while (i < (before.dims[axis] as number) && !equal(slice(before, i), target)) i++;
    if (i >= (before.dims[axis] as number))
      throw new Error(`pruned entry ${j} is not an original one`);
    kept.add(i++);
  }
  const removed = new Set<number>();
  for (let k = 0; k < (before.dims[axis] as number); k++) if (!kept.has(k)) removed.add(k);
  return removed;
}

function equal(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A model's initializer by name. */
export function weight(model: Model, name: string): Tensor {
  const tensor = model.graph.initializers.get(name)?.constValue;
  if (!(tensor instanceof Tensor)) throw new Error(`no initializer "${name}"`);
  return tensor;
}
