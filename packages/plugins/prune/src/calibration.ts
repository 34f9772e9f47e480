import {
  type DataRecord,
  DataType,
  decodeModel,
  encodeModel,
  generateInputs,
  type Model,
  type PassContext,
  type Tensor,
  type TensorType,
  type Value,
  type ValueSignature,
} from "@lathe/core";

/**
 * ‖X_c‖₂ of every channel of each activation over the calibration data: the activations are
 * exposed as extra outputs of a copy of the model and the records run through it on one
 * session. Axis −1 holds MatMul/Gemm channels, axis 1 Conv channels.
 */
export async function activationNorms(
  model: Model,
  wanted: ReadonlyMap<Value, number>,
  context: PassContext<{ data?: string; samples: number }>,
): Promise<Map<Value, Float64Array>> {
  const copy = decodeModel(encodeModel(model));
  const byName = new Map<string, Value>();
  for (const node of copy.graph.nodes()) for (const o of node.outputs) byName.set(o.name, o);
  for (const v of copy.graph.inputs) byName.set(v.name, v);
  const names: string[] = [];
  for (const value of wanted.keys()) {
    const inCopy = byName.get(value.name);
    if (!inCopy) continue;
    // A graph input is read from the record itself; anything else is fetched as an output.
    if (copy.graph.inputs.includes(inCopy)) continue;
    if (!copy.graph.outputs.includes(inCopy)) copy.graph.outputs.push(inCopy);
    names.push(value.name);
  }
  const records = await calibrationRecords(model, context);
  const sums = new Map<string, Float64Array>();
  const session = context.sessions.open ? await context.sessions.open(copy) : undefined;
  try {
    context.progress.start(records.length, "calibrating (activation norms)");
    for (const record of records) {
      context.signal.throwIfAborted();
      const out =
        names.length === 0
          ? {}
          : session
            ? await session.run(record, names)
            : (await context.sessions.run(copy, [record], { outputs: names }))[0];
      for (const [value, axis] of wanted) {
        const tensor = out?.[value.name] ?? record[value.name];
        if (tensor) accumulate(sums, value.name, tensor, axis);
      }
      context.progress.advance(1);
    }
  } finally {
    await session?.release();
  }
  const norms = new Map<Value, Float64Array>();
  for (const value of wanted.keys()) {
    const sum = sums.get(value.name);
    if (sum) norms.set(value, sum.map(Math.sqrt));
  }
  return norms;
}

function accumulate(
  sums: Map<string, Float64Array>,
  name: string,
  tensor: Tensor,
  axis: number,
): void {
  const dims = tensor.dims;
  const a = axis < 0 ? dims.length + axis : axis;
  const channels = dims[a] ?? 1;
  const inner = dims.slice(a + 1).reduce((x, y) => x * y, 1);
  const values = tensor.toArray() as Float32Array;
  const sum = sums.get(name) ?? new Float64Array(channels);
  sums.set(name, sum);
  for (let i = 0; i < values.length; i++) {
    const c = Math.floor(i / inner) % channels;
    sum[c] = (sum[c] ?? 0) + (values[i] ?? 0) ** 2;
  }
}

/** The recipe's data set (option `data`), or inputs generated from the recipe's seed and shapes. */
export async function calibrationRecords(
  model: Model,
  context: PassContext<{ data?: string; samples: number }>,
): Promise<DataRecord[]> {
  const names = new Set(model.graph.inputs.map((v) => v.name));
  const records: DataRecord[] = [];
  if (context.options.data) {
    for await (const record of context.data(context.options.data).records()) {
      records.push(Object.fromEntries(Object.entries(record).filter(([k]) => names.has(k))));
      if (records.length >= context.options.samples) break;
    }
    return records;
  }
  context.logger.warn(
    `calibrating on ${context.options.samples} generated inputs: name a data set (\`data\`) of real inputs, or the activation statistics the criterion weighs by will not be the real ones`,
  );
  const signature: ValueSignature[] = model.graph.inputs
    .filter((v) => !model.graph.initializers.has(v.name))
    .map((v) => {
      const type = v.type as TensorType | undefined;
      return {
        name: v.name,
        dataType: type?.elemType ?? DataType.FLOAT,
        dims: (type?.shape?.dims ?? []).map((d) => (d === null ? "unknown" : d)),
      };
    });
  for (let i = 0; i < context.options.samples; i++) {
    records.push(
      generateInputs(signature, { shapes: context.target.shapes, seed: i, where: "target.shapes" }),
    );
  }
  return records;
}
