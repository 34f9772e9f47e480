import {
  constantOf,
  DataType,
  inferShapes,
  LatheError,
  type Model,
  NameScope,
  type Node,
  removeDeadCode,
  Tensor,
  type TensorType,
  tensorType,
  type Value,
} from "@lathe/core";

/**
 * A denoiser's input layer (the one node reading its noisy sample: a UNet's `conv_in`, a Conv,
 * or a MatMul by a constant [C, out] matrix) and output layer (the node writing its prediction:
 * `conv_out`, or a MatMul by a constant [in, C] matrix), which a basis of the sample's C
 * channels folds into.
 */
export interface DenoiserLayers {
  readonly sample: Value;
  readonly prediction: Value;
  readonly input: Layer;
  readonly output: Layer;
  readonly channels: number;
}

interface Layer {
  readonly node: Node;
  readonly kind: "Conv" | "MatMul";
  /** Conv: [out, in, kh, kw]; MatMul: [in, out]. */
  readonly weight: Tensor;
  readonly bias: Tensor | undefined;
}

/** Names a denoiser's sample input and prediction output take in diffusers' and Optimum's exports. */
const SAMPLE_INPUT = "sample";
const PREDICTION_OUTPUT = "out_sample";

/** Finds the layers of `model` (component `component`) a C-channel basis folds into. */
export function denoiserLayers(model: Model, component: string): DenoiserLayers {
  const graph = model.graph;
  const sample = graph.inputs.find((v) => v.name === SAMPLE_INPUT) ?? graph.inputs[0];
  const prediction = graph.outputs.find((v) => v.name === PREDICTION_OUTPUT) ?? graph.outputs[0];
  if (!sample || !prediction)
    throw unplaceable(component, "it has no sample input or no prediction output");
  const channels = (sample.type as TensorType | undefined)?.shape?.dims[1];
  if (typeof channels !== "number") {
    throw unplaceable(
      component,
      `its input "${sample.name}" does not say its channel count (dim 1 must be static)`,
    );
  }
  // A Shape reading the sample for its batch or spatial dims (a UNet broadcasting the timestep
  // to the batch) is untouched by the fold; one that reaches dim 1 is not.
  const readers = sample.uses().filter((use) => !readsBatchOnly(use.node));
  const first = readers.length === 1 && readers[0]?.index === 0 ? readers[0].node : undefined;
  if (!first) {
    throw unplaceable(
      component,
      `its input "${sample.name}" is read by ${readers.length} nodes (${readers.map((u) => u.node.name || u.node.opType).join(", ")}); one input layer (conv_in) reading it is needed`,
    );
  }
  const input = layer(first, "in", channels);
  if (!input) {
    throw unplaceable(
      component,
      `"${first.name}" (${first.opType}) reads "${sample.name}" but is not a Conv or a MatMul by a constant [${channels}, out] weight`,
    );
  }
  const rank = (sample.type as TensorType | undefined)?.shape?.dims.length;
  if (input.kind === "MatMul" && rank !== 2) {
    throw unplaceable(
      component,
      `its input layer is a MatMul but "${sample.name}" has rank ${rank}: a [batch, C] sample is needed (channels last and only)`,
    );
  }
  const last = prediction.producer();
  const output = last && last.outputs[0] === prediction ? layer(last, "out", channels) : undefined;
  if (!output || prediction.uses().length > 0) {
    throw unplaceable(
      component,
      `"${prediction.name}" is not written by a Conv or a MatMul by a constant [in, ${channels}] weight that nothing else reads (${last ? `${last.name} (${last.opType})` : "a graph input"})`,
    );
  }
  return { sample, prediction, input, output, channels };
}

/**
 * Folds the basis U_k (C×k row-major, orthonormal columns) into the denoiser, so that it takes
 * and returns k channels and computes ε′(z′) = U_kᵀ·ε(U_k·z′):
 *
 * - input layer: a Conv's weight W[o, c, …] becomes Σ_c W[o, c, …]·U[c, i]; a MatMul's W[c, o]
 *   becomes Σ_c U[c, i]·W[c, o]. No bias changes: nothing is subtracted (the basis is uncentered,
 *   because diffusion's forward process x_t = √ᾱ·x₀ + σ·ε shrinks the sample toward the origin),
 *   so zero padding at a Conv's borders stays exact.
 * - output layer: Conv W[c, x, …] → Σ_c U[c, i]·W[c, x, …] and bias b → U_kᵀ·b; MatMul
 *   W[x, c] → Σ_c W[x, c]·U[c, i].
 *
 * The input and output keep their names, with k in dim 1. Returns the folded weights' element
 * counts before and after.
 */
export function foldDenoiser(
  model: Model,
  layers: DenoiserLayers,
  basis: Float64Array,
  k: number,
): { readonly before: number; readonly after: number } {
  const { channels: c, input, output, sample, prediction } = layers;
  const names = new NameScope(model);
  const graph = model.graph;
  const set = (node: Node, index: number, name: string, dims: number[], values: Float64Array) => {
    const value = graph.addInitializer(
      Tensor.fromArray(DataType.FLOAT, dims, Float32Array.from(values)),
      names.name(name),
    );
    value.type = tensorType(DataType.FLOAT, dims);
    node.setInput(index, value);
  };
  const u = (channel: number, i: number) => basis[channel * k + i] ?? 0;

  const inWeight = floats(input.weight);
  const inDims = [...input.weight.dims];
  const folded = new Float64Array((inWeight.length / c) * k);
  if (input.kind === "Conv") {
    // [out, C, kh, kw] → [out, k, kh, kw]
    const [out = 0, , ...kernel] = inDims;
    const area = kernel.reduce((a, b) => a * b, 1);
    for (let o = 0; o < out; o++)
      for (let ch = 0; ch < c; ch++)
        for (let i = 0; i < k; i++) {
          const f = u(ch, i);
          for (let p = 0; p < area; p++)
            folded[(o * k + i) * area + p] =
              (folded[(o * k + i) * area + p] ?? 0) + f * (inWeight[(o * c + ch) * area + p] ?? 0);
        }
    inDims[1] = k;
  } else {
    // [C, out] → [k, out]
    const out = inDims[1] ?? 0;
    for (let ch = 0; ch < c; ch++)
      for (let i = 0; i < k; i++) {
        const f = u(ch, i);
        for (let o = 0; o < out; o++)
          folded[i * out + o] = (folded[i * out + o] ?? 0) + f * (inWeight[ch * out + o] ?? 0);
      }
    inDims[0] = k;
  }
  set(input.node, 1, `${input.node.name || "input_layer"}.weight_latent_pca`, inDims, folded);

  const outWeight = floats(output.weight);
  const outDims = [...output.weight.dims];
  const projected = new Float64Array((outWeight.length / c) * k);
  if (output.kind === "Conv") {
    // [C, in, kh, kw] → [k, in, kh, kw]
    const rest = outWeight.length / c;
    for (let ch = 0; ch < c; ch++)
      for (let i = 0; i < k; i++) {
        const f = u(ch, i);
        for (let p = 0; p < rest; p++)
          projected[i * rest + p] =
            (projected[i * rest + p] ?? 0) + f * (outWeight[ch * rest + p] ?? 0);
      }
    outDims[0] = k;
    if (output.bias) {
      const bias = floats(output.bias);
      const foldedBias = new Float64Array(k);
      for (let ch = 0; ch < c; ch++)
        for (let i = 0; i < k; i++)
          foldedBias[i] = (foldedBias[i] ?? 0) + u(ch, i) * (bias[ch] ?? 0);
      set(output.node, 2, `${output.node.name || "output_layer"}.bias_latent_pca`, [k], foldedBias);
    }
  } else {
    // [in, C] → [in, k]
    const rows = outDims[0] ?? 0;
    for (let x = 0; x < rows; x++)
      for (let ch = 0; ch < c; ch++) {
        const w = outWeight[x * c + ch] ?? 0;
        for (let i = 0; i < k; i++)
          projected[x * k + i] = (projected[x * k + i] ?? 0) + w * u(ch, i);
      }
    outDims[1] = k;
  }
  set(
    output.node,
    1,
    `${output.node.name || "output_layer"}.weight_latent_pca`,
    outDims,
    projected,
  );

  for (const value of [sample, prediction]) {
    const type = value.type as TensorType | undefined;
    if (type?.kind === "tensor" && type.shape) {
      const dims = [...type.shape.dims];
      dims[1] = k;
      value.type = tensorType(type.elemType, dims);
    }
  }
  removeDeadCode(graph);
  const report = inferShapes(model);
  if (report.failures.length > 0 || report.conflicts.length > 0) {
    throw new Error(
      `latent/pca-channels left a denoiser whose shapes do not infer (a bug: please report it with the model): ${[...report.failures, ...report.conflicts][0]}`,
    );
  }
  return {
    before: inWeight.length + outWeight.length,
    after: folded.length + projected.length,
  };
}

function layer(node: Node, side: "in" | "out", channels: number): Layer | undefined {
  if (node.domain !== "" || (node.opType !== "Conv" && node.opType !== "MatMul")) return undefined;
  const weight = constantOf(node.inputs[1]);
  if (!weight || weight.dataType !== DataType.FLOAT) return undefined;
  if (node.opType === "Conv") {
    const bias = node.inputs[2] ? constantOf(node.inputs[2]) : undefined;
    if (node.inputs[2] && !bias) return undefined;
    if (weight.dims.length < 3 || node.getInt("group", 1) !== 1) return undefined;
    const axis = side === "in" ? 1 : 0;
    if (weight.dims[axis] !== channels) return undefined;
    return { node, kind: "Conv", weight, bias };
  }
  if (weight.dims.length !== 2 || weight.dims[side === "in" ? 0 : 1] !== channels) return undefined;
  return { node, kind: "MatMul", weight, bias: undefined };
}

/** A Shape whose every reader is a Gather of constant indices other than 1 (the channels). */
function readsBatchOnly(node: Node): boolean {
  if (node.opType !== "Shape" || node.domain !== "") return false;
  const output = node.outputs[0];
  return (output?.uses() ?? []).every(({ node: reader, index }) => {
    if (reader.opType !== "Gather" || index !== 0) return false;
    const indices = constantOf(reader.inputs[1]);
    if (!indices) return false;
    return Array.from(indices.toArray() as ArrayLike<number | bigint>, Number).every(
      (i) => i !== 1,
    );
  });
}

function floats(tensor: Tensor): Float64Array {
  return Float64Array.from(tensor.toArray() as Float32Array);
}

function unplaceable(component: string, what: string): LatheError {
  return new LatheError(
    "LATENT_PLACEMENT_UNCLEAR",
    `cannot fold the basis into the denoiser: ${what}`,
    {
      where: `component ${component}`,
      hint: "latent/pca-channels folds into a denoiser whose sample input is read only by its input layer (conv_in: a Conv, or a MatMul by a constant) and whose prediction is written by its output layer (conv_out); name the denoiser component with `denoiser`",
    },
  );
}
