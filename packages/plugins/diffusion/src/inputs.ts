import {
  type DataRecord,
  type DataSet,
  DataType,
  LatheError,
  type Model,
  type ModelBundle,
  type PassRandom,
  Tensor,
  type TensorType,
} from "@lathe/core";
import type { NoiseModel, TimePoint } from "./noise.js";
import type { DiffusionSpec } from "./spec.js";

/** CLIP's text length: the default for a symbolic sequence dim of the conditioning. */
const DEFAULT_SEQUENCE = 77;

/**
 * One sample's dims (without the batch): `given`, else the input's static dims, with symbolic
 * height/width read from a diffusers config's `sample_size` in the bundle's metadata.
 */
export function resolveSampleShape(
  bundle: ModelBundle,
  model: Model,
  spec: DiffusionSpec,
  given: readonly number[] | undefined,
): number[] {
  if (given) return [...given];
  const input = model.graph.inputs.find((v) => v.name === spec.sampleInput);
  const dims = (input?.type as TensorType | undefined)?.shape?.dims.slice(1) ?? [];
  const config = (bundle.metadata.diffusersConfig ?? {}) as Record<string, unknown>;
  const sampleSize = typeof config.sample_size === "number" ? config.sample_size : undefined;
  const shape = dims.map((d) => {
    if (typeof d === "number") return d;
    if ((d === "height" || d === "width") && sampleSize) return sampleSize;
    return undefined;
  });
  if (dims.length === 0 || shape.some((d) => d === undefined)) {
    throw new LatheError(
      "DIFFUSION_SHAPE_UNKNOWN",
      `the denoiser's ${spec.sampleInput} input has dims [${dims.map(String).join(", ")}] after the batch, which do not say one sample's size`,
      {
        where: `${spec.component}.${spec.sampleInput}`,
        hint: "give the pass's `sampleShape` option, e.g. [4, 64, 64]",
      },
    );
  }
  return shape as number[];
}

/** Normal noise scaled to the prior at `start` (N(0, (α² + σ²)·I)); standard without `start`. */
export function drawNoise(random: PassRandom, count: number, start?: TimePoint): Float64Array {
  const scale = start ? initialScale(start) : 1;
  return Float64Array.from({ length: count }, () => scale * random.normal());
}

/** The prior's standard deviation at the start point (1 for VP schedules, ~σ_max for VE). */
export function initialScale(start: TimePoint): number {
  const scale = Math.sqrt(start.alpha ** 2 + start.sigma ** 2);
  return Math.abs(scale - 1) < 1e-9 ? 1 : scale;
}

export function startPoint(noise: NoiseModel): TimePoint {
  return noise.point(noise.tMax);
}

/**
 * `rows` rows of every conditioning input: from the data set's records (stacked, cycling when
 * it has fewer), or seeded standard normals with symbolic dims from `shapes` (a sequence dim
 * defaults to 77, CLIP's length).
 */
export async function conditioningFor(
  model: Model,
  names: readonly string[],
  rows: number,
  random: PassRandom,
  options: { data?: DataSet; shapes?: Readonly<Record<string, readonly number[]>> },
): Promise<DataRecord> {
  if (names.length === 0) return {};
  if (options.data) return stackRecords(options.data, names, rows);
  const out: Record<string, Tensor> = {};
  for (const name of names) {
    const input = model.graph.inputs.find((v) => v.name === name);
    const type = input?.type as TensorType | undefined;
    const dims = type?.shape?.dims.slice(1) ?? [];
    const given = options.shapes?.[name];
    const shape = given
      ? [...given]
      : dims.map((d) => {
          if (typeof d === "number") return d;
          if (typeof d === "string" && /seq/i.test(d)) return DEFAULT_SEQUENCE;
          throw new LatheError(
            "DIFFUSION_SHAPE_UNKNOWN",
            `the conditioning input ${name} has a symbolic dim "${String(d)}"`,
            {
              where: `input ${name}`,
              hint: `give its per-sample shape in the pass's \`conditioningShapes\` option, e.g. { ${name}: [77, 768] }`,
            },
          );
        });
    const count = rows * shape.reduce((a, b) => a * b, 1);
    const values = Float32Array.from({ length: count }, () => random.normal());
    out[name] = Tensor.fromArray(type?.elemType ?? DataType.FLOAT, [rows, ...shape], values);
  }
  return out;
}

async function stackRecords(
  data: DataSet,
  names: readonly string[],
  rows: number,
): Promise<DataRecord> {
  const parts = new Map<string, { values: number[]; dims: readonly number[] }>(
    names.map((n) => [n, { values: [], dims: [] }]),
  );
  let have = 0;
  const records: DataRecord[] = [];
  for await (const record of data.records()) {
    records.push(record);
    if (records.length >= rows) break;
  }
  if (records.length === 0) {
    throw new LatheError("DIFFUSION_DATA_EMPTY", `the data set "${data.name}" has no records`, {
      where: `data.${data.name}`,
      hint: "point it at files holding the conditioning inputs",
    });
  }
  while (have < rows) {
    const record = records[have % records.length] as DataRecord;
    for (const name of names) {
      const tensor = record[name];
      if (!tensor) {
        throw new LatheError(
          "DIFFUSION_DATA_INVALID",
          `a record of "${data.name}" has no "${name}"`,
          {
            where: `data.${data.name}`,
            hint: `the denoiser's conditioning inputs are ${names.join(", ")}`,
          },
        );
      }
      const part = parts.get(name) as { values: number[]; dims: readonly number[] };
      const perRow = tensor.dims.slice(1);
      const rowSize = perRow.reduce((a, b) => a * b, 1);
      const values = tensor.toArray() as Float32Array;
      for (let i = 0; i < rowSize; i++) part.values.push(values[i] ?? 0);
      part.dims = perRow;
    }
    have++;
  }
  const out: Record<string, Tensor> = {};
  for (const [name, part] of parts)
    out[name] = Tensor.fromArray(DataType.FLOAT, [rows, ...part.dims], part.values);
  return out;
}
