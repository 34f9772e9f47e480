/**
 * Whether a data set's records fit a model's inputs, said before the model runs: a wrong input
 * name, channel count, layout, size or element type is named with the data set, the input and
 * the option to change, instead of surfacing as ONNX Runtime's message from deep in a pass.
 */
import { LatheError } from "../diagnostics.js";
import { dataTypeInfo } from "../ir/dtype.js";
import type { DataRecord } from "../plugin/types.js";

/** A model input as a pass or metric knows it; unknown dims (null, symbols) match any size. */
export interface InputSpec {
  readonly name: string;
  readonly dataType?: number;
  readonly dims?: readonly (number | string | null)[];
}

/**
 * Throws DATA_INPUT_MISMATCH when `record` (the first of data set `data`) lacks one of `inputs`
 * or holds it with another rank, fixed size or element type.
 */
export function checkRecordFits(
  record: DataRecord,
  inputs: readonly InputSpec[],
  data: string,
): void {
  const problem = recordMismatch(record, inputs);
  if (problem)
    throw new LatheError("DATA_INPUT_MISMATCH", `data "${data}": ${problem.detail}`, {
      hint: problem.hint,
    });
}

export function recordMismatch(
  record: DataRecord,
  inputs: readonly InputSpec[],
): { detail: string; hint: string } | undefined {
  const held = Object.keys(record);
  for (const input of inputs) {
    const tensor = record[input.name];
    const wanted = describe(input.dims, input.dataType);
    if (!tensor)
      return {
        detail: `its records hold ${held.map((k) => `"${k}"`).join(", ") || "nothing"}, but the model reads "${input.name}" ${wanted}`,
        hint: `name the model input in the data source's options (images/audio: input: ${input.name}; text: inputs: { ids: ${input.name} })`,
      };
    const got = describe(tensor.dims, tensor.dataType);
    if (input.dataType !== undefined && input.dataType !== tensor.dataType)
      return {
        detail: `"${input.name}" is ${got}, but the model reads ${wanted}`,
        hint: "set the data source's dtype: option to the model input's element type",
      };
    const dims = input.dims;
    if (!dims) continue;
    if (dims.length !== tensor.dims.length)
      return {
        detail: `"${input.name}" is ${got}, but the model reads ${wanted}: ${tensor.dims.length} dims for ${dims.length}`,
        hint: "set layout: to the dims the model reads (images: NCHW/NHWC; audio: NT, NCT or T)",
      };
    const axis = dims.findIndex((d, i) => typeof d === "number" && d !== tensor.dims[i]);
    if (axis >= 0)
      return {
        detail: `"${input.name}" is ${got}, but the model reads ${wanted}: dim ${axis} is ${tensor.dims[axis]}, the model's is ${dims[axis]}`,
        hint: fixHint(dims, tensor.dims, axis),
      };
  }
  return undefined;
}

/** What to change for a size that differs on `axis`: channels, layout, size or length. */
function fixHint(
  model: readonly (number | string | null)[],
  data: readonly number[],
  axis: number,
): string {
  const image = model.length === 4;
  const channelAxis = image && (model[1] === 1 || model[1] === 3) ? 1 : 3;
  if (image && axis === channelAxis) {
    const wanted = model[axis];
    return wanted === 1
      ? "the model reads one channel: set channels: gray"
      : data[axis] === 1
        ? "the model reads three channels: set channels: rgb (or bgr)"
        : "set layout: NHWC or NCHW to put the channels where the model reads them";
  }
  if (image) return "resize: and crop: to the model's height and width";
  return "set the window or maxLength (with padding: max-length) to the size the model reads";
}

function describe(dims: readonly (number | string | null)[] | undefined, type?: number): string {
  const shape = dims ? `[${dims.map((d) => d ?? "?").join(", ")}]` : "";
  const name = type === undefined ? "" : dataTypeInfo(type).name;
  return [shape, name].filter(Boolean).join(" ");
}
