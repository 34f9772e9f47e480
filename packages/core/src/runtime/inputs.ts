import { errors } from "../diagnostics.js";
import { DataType, dataTypeInfo, float32ToFloat16Bits } from "../ir/dtype.js";
import { elementCount, Tensor } from "../ir/tensor.js";
import { createPassRandom } from "../pipeline/random.js";
import type { DataRecord, PassRandom } from "../plugin/types.js";
import type { ValueSignature } from "./signature.js";

export interface GenerateInputsOptions {
  /** Whole shapes by input name (`input_ids: [1, 128]`); they also bind the symbolic dims they cover. */
  readonly shapes?: Readonly<Record<string, readonly number[]>>;
  /** Sizes by symbolic dim name (`sequence_length: 128`). */
  readonly dims?: Readonly<Record<string, number>>;
  /** The seed of the floats and token ids; each input draws from its own stream. Default 0. */
  readonly seed?: number;
  /** Token ids are drawn from [0, vocabSize). Default 100 (below any real vocabulary). */
  readonly vocabSize?: number;
  /** The length of the cache for `past_*` dims not bound otherwise (a decoding step). */
  readonly past?: number;
  /** Where the shapes come from, for errors (the recipe file, or `--shape`). */
  readonly where?: string;
}

const DEFAULT_VOCAB = 100;
/** Diffusion schedules count timesteps in [0, 1000). */
const TIMESTEPS = 1000;

/**
 * Inputs for a signature, one tensor per input: token ids within the vocabulary, attention masks
 * of ones, position ids counting on from the cache length, `past_key_values.*` and other floats
 * from a seeded normal, timesteps as whole numbers below 1000, other integers zero.
 */
export function generateInputs(
  signature: readonly ValueSignature[],
  options: GenerateInputsOptions = {},
): DataRecord {
  const where = options.where ?? "target.shapes";
  const dims = bindDims(signature, options, where);
  const record: Record<string, Tensor> = {};
  for (const input of signature) {
    const shape = resolveShape(input, options.shapes?.[input.name], dims, where);
    const random = createPassRandom(options.seed ?? 0, "runtime/generate-inputs", input.name);
    record[input.name] = makeTensor(input, shape, dims, random, options.vocabSize ?? DEFAULT_VOCAB);
  }
  return record;
}

/**
 * Symbolic dim sizes: given ones, those the given shapes imply, `past` for cache dims, and a
 * total length (`total_sequence_length`) as past + current where both are known.
 */
export function bindDims(
  signature: readonly ValueSignature[],
  options: GenerateInputsOptions,
  where = "target.shapes",
): Record<string, number> {
  const dims: Record<string, number> = { ...options.dims };
  for (const input of signature) {
    const shape = options.shapes?.[input.name];
    if (!shape) continue;
    checkRank(input, shape, where);
    input.dims.forEach((d, i) => {
      if (typeof d === "string" && isName(d) && dims[d] === undefined) dims[d] = shape[i]!;
    });
  }
  const names = new Set(signature.flatMap((s) => s.dims.filter((d) => typeof d === "string")));
  for (const name of names) {
    if (dims[name] !== undefined || !isName(name)) continue;
    if (/past/i.test(name) && options.past !== undefined) dims[name] = options.past;
  }
  for (const name of names) {
    if (dims[name] !== undefined || !/total/i.test(name)) continue;
    const past = Object.keys(dims).find((k) => /past/i.test(k));
    const current = Object.keys(dims).find((k) => /seq/i.test(k) && !/past|total/i.test(k));
    if (past && current) dims[name] = dims[past]! + dims[current]!;
  }
  return dims;
}

function resolveShape(
  input: ValueSignature,
  given: readonly number[] | undefined,
  dims: Readonly<Record<string, number>>,
  where: string,
): number[] {
  if (given) {
    input.dims.forEach((d, i) => {
      if (typeof d === "number" && d !== given[i]) {
        throw errors.dataOptionsInvalid(
          where,
          `shape [${given.join(", ")}] for input "${input.name}" has ${given[i]} at axis ${i}, where the model has ${d}`,
          `give [${input.dims.map((x, j) => (typeof x === "number" ? x : given[j])).join(", ")}]`,
        );
      }
    });
    return [...given];
  }
  return input.dims.map((d) => {
    if (typeof d === "number") return d;
    const size = dims[d] ?? evaluateDim(d, dims);
    if (size === undefined) {
      const example = input.dims.map((x) =>
        typeof x === "number"
          ? x
          : (dims[x] ?? evaluateDim(x, dims) ?? (/batch/i.test(x) ? 1 : 16)),
      );
      throw errors.shapeUnbound(where, input.name, d, `[${example.join(", ")}]`);
    }
    return size;
  });
}

function checkRank(input: ValueSignature, shape: readonly number[], where: string): void {
  if (shape.length !== input.dims.length || shape.some((n) => !Number.isInteger(n) || n < 0)) {
    throw errors.dataOptionsInvalid(
      where,
      `shape [${shape.join(", ")}] for input "${input.name}" does not fit its dims [${input.dims.join(", ")}]`,
      `give ${input.dims.length} non-negative integers`,
    );
  }
}

function isName(dim: string): boolean {
  return /^[A-Za-z_][\w.]*$/.test(dim);
}

/** Dims exporters write as expressions of others: `past_sequence_length + 1`, `2*sequence`. */
export function evaluateDim(
  expression: string,
  dims: Readonly<Record<string, number>>,
): number | undefined {
  const tokens = expression.match(/[A-Za-z_][\w.]*|\d+|[-+*]|\S/g) ?? [];
  let total = 0;
  let term = 1;
  let sign = 1;
  let expectOperand = true;
  for (const token of tokens) {
    if (expectOperand) {
      const value = /^\d+$/.test(token) ? Number(token) : dims[token];
      if (value === undefined) return undefined;
      term *= value;
      expectOperand = false;
    } else if (token === "*") {
      expectOperand = true;
    } else if (token === "+" || token === "-") {
      total += sign * term;
      sign = token === "+" ? 1 : -1;
      term = 1;
      expectOperand = true;
    } else {
      return undefined;
    }
  }
  if (expectOperand) return undefined;
  const value = total + sign * term;
  return Number.isInteger(value) && value >= 0 ? value : undefined;
}

type Role = "token-ids" | "mask" | "positions" | "timestep" | "other";

function roleOf(name: string): Role {
  if (/input_ids$|^ids$|tokens?$/i.test(name)) return "token-ids";
  if (/mask/i.test(name)) return "mask";
  if (/position_ids$|positions$/i.test(name)) return "positions";
  if (/timestep|^t$/i.test(name)) return "timestep";
  return "other";
}

function makeTensor(
  input: ValueSignature,
  shape: readonly number[],
  dims: Readonly<Record<string, number>>,
  random: PassRandom,
  vocabSize: number,
): Tensor {
  const count = elementCount(shape);
  const role = roleOf(input.name);
  const info = dataTypeInfo(input.dataType);
  const value = (i: number): number => {
    switch (role) {
      case "mask":
        return 1;
      case "token-ids":
        return info.kind === "float" ? random.normal() : random.nextUint32() % vocabSize;
      case "positions": {
        const past = Object.entries(dims).find(([k]) => /past/i.test(k))?.[1] ?? 0;
        const length = shape[shape.length - 1] ?? 1;
        return past + (i % Math.max(length, 1));
      }
      case "timestep":
        return random.nextUint32() % TIMESTEPS;
      case "other":
        if (info.kind === "float") return random.normal();
        if (info.kind === "bool") return random.nextUint32() & 1;
        return 0;
    }
  };
  const name = input.name;
  switch (input.dataType) {
    case DataType.FLOAT:
      return Tensor.fromArray(
        DataType.FLOAT,
        shape,
        Float32Array.from({ length: count }, (_, i) => value(i)),
        { name },
      );
    case DataType.DOUBLE:
      return Tensor.fromArray(
        DataType.DOUBLE,
        shape,
        Float64Array.from({ length: count }, (_, i) => value(i)),
        { name },
      );
    case DataType.FLOAT16: {
      const bits = Uint16Array.from({ length: count }, (_, i) => float32ToFloat16Bits(value(i)));
      return Tensor.fromBytes(DataType.FLOAT16, shape, new Uint8Array(bits.buffer), { name });
    }
    case DataType.INT64:
    case DataType.UINT64:
      return Tensor.fromArray(
        input.dataType,
        shape,
        Array.from({ length: count }, (_, i) => BigInt(Math.trunc(value(i)))),
        { name },
      );
    case DataType.INT32:
    case DataType.UINT32:
    case DataType.INT16:
    case DataType.UINT16:
    case DataType.INT8:
    case DataType.UINT8:
    case DataType.BOOL:
      return Tensor.fromArray(
        input.dataType,
        shape,
        Array.from({ length: count }, (_, i) => Math.trunc(value(i))),
        { name },
      );
    case DataType.STRING:
      return Tensor.fromStrings(
        shape,
        Array.from({ length: count }, () => ""),
        { name },
      );
    default:
      throw errors.irMisuse(
        `input "${name}" is ${info.name}, which Lathe cannot generate inputs for (ONNX Runtime's JavaScript API does not carry it)`,
      );
  }
}
