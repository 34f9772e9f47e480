import {
  constantOf,
  DataType,
  type Graph,
  insertNode,
  LatheError,
  type Model,
  NameScope,
  type Node,
  removeDeadCode,
  replaceValue,
  Tensor,
  type TensorType,
  tensorType,
  type Value,
} from "@lathe/core";

/** A 1×1 convolution as a matrix: out = W·in + b per position. */
interface Conv1x1 {
  /** The node, or undefined for the identity a VAE without quant convs implicitly has. */
  readonly node: Node | undefined;
  readonly input: Value;
  readonly output: Value;
  /** Row-major [out, in]. */
  readonly weight: Float64Array;
  readonly bias: Float64Array;
  readonly outChannels: number;
  readonly inChannels: number;
}

/** The PCA basis to fold: the mean μ (C) and the top-k eigenvectors U_k (C×k, row-major). */
export interface Projection {
  readonly channels: number;
  readonly k: number;
  readonly mean: Float64Array;
  readonly basis: Float64Array;
}

/**
 * The encoder's `quant_conv` (the 1×1 Conv whose output is the encoder's [mean ‖ logvar]
 * output), or the identity on that output where the VAE has none.
 */
export function encoderQuantConv(encoder: Model, channels: number): Conv1x1 {
  const output = encoder.graph.outputs[0];
  if (!output || encoder.graph.outputs.length !== 1) {
    throw placement(
      "vae encoder",
      `it has ${encoder.graph.outputs.length} outputs; one [batch, 2C, h, w] output (mean ‖ logvar) expected`,
    );
  }
  checkChannels(output, 2 * channels, "vae encoder output");
  return (
    oneByOne(output.producer(), output, 2 * channels) ?? identity(output, output, 2 * channels)
  );
}

/** The decoder's `post_quant_conv` (the 1×1 Conv reading the latent input), or the identity. */
export function decoderPostQuantConv(decoder: Model, channels: number): Conv1x1 {
  const input = decoder.graph.inputs[0];
  if (!input || decoder.graph.inputs.length !== 1) {
    throw placement(
      "vae decoder",
      `it has ${decoder.graph.inputs.length} inputs; one latent [batch, C, h, w] input expected`,
    );
  }
  checkChannels(input, channels, "vae decoder input");
  const uses = input.uses();
  const only = uses.length === 1 ? uses[0]?.node : undefined;
  const conv = only ? oneByOne(only, only.outputs[0] as Value, channels) : undefined;
  return conv && conv.input === input ? conv : identity(input, input, channels);
}

/**
 * Encoder side: the mean rows become U_kᵀ(W_mean·h + b_mean − μ), so the output's first k channels
 * are the latent's principal coordinates; the log-variance rows become the log of the projected
 * diagonal variance, log(Σ_c U_ck²·exp(logvar_c)). The output keeps its name, with 2k channels.
 */
export function foldEncoder(encoder: Model, quant: Conv1x1, projection: Projection): void {
  const { channels: c, k, mean, basis } = projection;
  const graph = encoder.graph;
  const names = new NameScope(encoder);
  const n = quant.inChannels;
  const meanWeight = new Float64Array(k * n);
  const meanBias = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < c; j++) {
      const u = basis[j * k + i] ?? 0;
      for (let x = 0; x < n; x++)
        meanWeight[i * n + x] = (meanWeight[i * n + x] ?? 0) + u * (quant.weight[j * n + x] ?? 0);
      meanBias[i] = (meanBias[i] ?? 0) + u * ((quant.bias[j] ?? 0) - (mean[j] ?? 0));
    }
  }
  const varianceWeight = Float64Array.from(
    { length: k * c },
    (_, index) => (basis[(index % c) * k + Math.floor(index / c)] ?? 0) ** 2,
  );
  const anchor = undefined; // appended: every input already exists
  const conv = (
    input: Value,
    name: string,
    weight: Float64Array,
    out: number,
    inn: number,
    bias?: Float64Array,
  ) =>
    insertNode(graph, names, anchor, {
      opType: "Conv",
      name,
      inputs: [
        input,
        constant(graph, names, `${name}.weight`, weight, [out, inn, 1, 1]),
        ...(bias ? [constant(graph, names, `${name}.bias`, bias, [out])] : []),
      ],
      attributes: { kernel_shape: [1, 1] },
    }).output;
  const meanOut = conv(quant.input, "/latent_pca/mean", meanWeight, k, n, meanBias);
  const logvar = conv(
    quant.input,
    "/latent_pca/logvar_full",
    quant.weight.slice(c * n, 2 * c * n),
    c,
    n,
    quant.bias.slice(c, 2 * c),
  );
  const variance = insertNode(graph, names, anchor, {
    opType: "Exp",
    name: "/latent_pca/variance",
    inputs: [logvar],
  }).output;
  const projected = conv(variance, "/latent_pca/variance_projected", varianceWeight, k, c);
  const logvarOut = insertNode(graph, names, anchor, {
    opType: "Log",
    name: "/latent_pca/logvar",
    inputs: [projected],
  }).output;
  const joined = insertNode(graph, names, anchor, {
    opType: "Concat",
    name: "/latent_pca/parameters",
    inputs: [meanOut, logvarOut],
    attributes: { axis: 1 },
  }).output;
  const old = quant.output;
  const type = withChannels(old, 2 * k);
  if (quant.node) {
    replaceValue(old, joined, graph, names);
  } else {
    // The projection reads the old output itself: only the graph output moves to the new value.
    const name = old.name;
    old.name = names.name(`${name}_full`);
    joined.name = name;
    graph.outputs[graph.outputs.indexOf(old)] = joined;
  }
  if (type) (graph.outputs[0] as Value).type = type;
  removeDeadCode(graph);
}

/**
 * Decoder side: the latent input takes k channels z′ and the post-quant conv becomes
 * W·(μ + U_k·z′) + b = (W·U_k)·z′ + (W·μ + b), exactly what the original decoder computes on the
 * reconstructed latent.
 */
export function foldDecoder(decoder: Model, post: Conv1x1, projection: Projection): void {
  const { channels: c, k, mean, basis } = projection;
  const graph = decoder.graph;
  const names = new NameScope(decoder);
  const out = post.outChannels;
  const weight = new Float64Array(out * k);
  const bias = Float64Array.from(post.bias);
  for (let o = 0; o < out; o++) {
    for (let j = 0; j < c; j++) {
      const w = post.weight[o * c + j] ?? 0;
      for (let i = 0; i < k; i++)
        weight[o * k + i] = (weight[o * k + i] ?? 0) + w * (basis[j * k + i] ?? 0);
      bias[o] = (bias[o] ?? 0) + w * (mean[j] ?? 0);
    }
  }
  const input = graph.inputs[0] as Value;
  const readers = post.node ? [] : [...input.uses()];
  const first = graph.nodes()[0];
  const folded = insertNode(graph, names, first, {
    opType: "Conv",
    name: "/latent_pca/post_quant_conv",
    inputs: [
      input,
      constant(graph, names, "/latent_pca/post_quant_conv.weight", weight, [out, k, 1, 1]),
      constant(graph, names, "/latent_pca/post_quant_conv.bias", bias, [out]),
    ],
    attributes: { kernel_shape: [1, 1] },
  }).output;
  if (post.node) {
    replaceValue(post.output, folded, graph, names);
  } else {
    for (const use of readers) use.node.setInput(use.index, folded);
  }
  const type = withChannels(input, k);
  if (type) input.type = type;
  removeDeadCode(graph);
}

function oneByOne(node: Node | undefined, output: Value, channels: number): Conv1x1 | undefined {
  if (node?.opType !== "Conv" || node.domain !== "" || node.outputs[0] !== output) return undefined;
  const weight = constantOf(node.inputs[1]);
  const bias = node.inputs[2] ? constantOf(node.inputs[2]) : undefined;
  if (!weight || weight.dataType !== DataType.FLOAT || (node.inputs[2] && !bias)) return undefined;
  const [o, i, h, w] = weight.dims;
  if (
    weight.dims.length !== 4 ||
    h !== 1 ||
    w !== 1 ||
    o !== channels ||
    node.getInt("group", 1) !== 1
  )
    return undefined;
  const pads = node.getInts("pads", [0, 0, 0, 0]);
  const strides = node.getInts("strides", [1, 1]);
  if (pads.some((p) => p !== 0) || strides.some((s) => s !== 1)) return undefined;
  return {
    node,
    input: node.inputs[0] as Value,
    output,
    weight: Float64Array.from(weight.toArray() as Float32Array),
    bias: bias ? Float64Array.from(bias.toArray() as Float32Array) : new Float64Array(o),
    outChannels: o,
    inChannels: i ?? 0,
  };
}

function identity(input: Value, output: Value, channels: number): Conv1x1 {
  const weight = new Float64Array(channels * channels);
  for (let i = 0; i < channels; i++) weight[i * channels + i] = 1;
  return {
    node: undefined,
    input,
    output,
    weight,
    bias: new Float64Array(channels),
    outChannels: channels,
    inChannels: channels,
  };
}

function constant(
  graph: Graph,
  names: NameScope,
  name: string,
  values: Float64Array,
  dims: number[],
): Value {
  const value = graph.addInitializer(
    Tensor.fromArray(DataType.FLOAT, dims, Float32Array.from(values)),
    names.name(name),
  );
  value.type = tensorType(DataType.FLOAT, dims);
  return value;
}

function withChannels(value: Value, channels: number): TensorType | undefined {
  const type = value.type as TensorType | undefined;
  if (type?.kind !== "tensor" || !type.shape) return undefined;
  const dims = [...type.shape.dims];
  dims[1] = channels;
  return tensorType(type.elemType, dims);
}

function checkChannels(value: Value, channels: number, what: string): void {
  const dims = (value.type as TensorType | undefined)?.shape?.dims;
  if (dims && (dims.length !== 4 || (typeof dims[1] === "number" && dims[1] !== channels))) {
    throw placement(
      what,
      `"${value.name}" has dims [${dims.map(String).join(", ")}]; [batch, ${channels}, h, w] expected`,
    );
  }
}

function placement(where: string, what: string): LatheError {
  return new LatheError("LATENT_PLACEMENT_UNCLEAR", `cannot place the latent projection: ${what}`, {
    where,
    hint: "latent/pca-channels folds into a VAE whose encoder ends in one [batch, 2C, h, w] output (mean ‖ logvar, as diffusers' AutoencoderKL exports) and whose decoder takes one [batch, C, h, w] latent",
  });
}
