import {
  createBuilder,
  DataType,
  inlineGraph,
  LatheError,
  type Model,
  Tensor,
  type TensorType,
  type Value,
} from "@lathe/core";
import { initialScale } from "./inputs.js";
import type { TimePoint } from "./noise.js";
import type { StepPlan, Term } from "./solvers.js";
import type { DiffusionSpec } from "./spec.js";

/** The sampler's noise input and its output, by name. */
export const SAMPLER_INPUT = "noise";
export const SAMPLER_OUTPUT = "sample";
/** With guidance, each conditioning input `x` has an unconditional partner `uncond_x`. */
export const UNCONDITIONAL_PREFIX = "uncond_";

export interface SamplerGraphOptions {
  readonly coefficients?: readonly number[];
  /** Classifier-free guidance scale (the denoiser runs on both halves of one batch). */
  readonly guidance?: number;
  /** A VAE decoder run on sample / scalingFactor, making the output an image. */
  readonly decoder?: { readonly model: Model; readonly scalingFactor: number };
}

/**
 * The whole K-step sampler as one ONNX graph: the denoiser inlined once per step (its weights
 * stored once), the solver's arithmetic between the copies as Mul/Add by constants, and the
 * timesteps as constants. Noise (and conditioning) in, sample (or image) out: one ONNX Runtime
 * session runs what the TypeScript loop runs, without a round trip per step.
 */
export function buildSamplerGraph(
  denoiser: Model,
  spec: DiffusionSpec,
  plan: readonly StepPlan[],
  options: SamplerGraphOptions = {},
): Model {
  const opsets = mergeOpsets(denoiser, options.decoder?.model);
  const b = createBuilder({
    opset: opsets.get("") ?? 17,
    opsets: Object.fromEntries([...opsets].filter(([d]) => d !== "")),
  });
  b.graph.name = "lathe_sampler";
  b.namePrefix = "sampler";
  const source = denoiser.graph;
  const sampleInput = source.inputs.find((v) => v.name === spec.sampleInput) as Value;
  const noise = b.input(SAMPLER_INPUT, DataType.FLOAT, dimsOf(sampleInput));
  const conditioning = new Map<string, Value>();
  const unconditional = new Map<string, Value>();
  for (const name of spec.conditioningInputs) {
    const input = source.inputs.find((v) => v.name === name) as Value;
    const type = input.type as TensorType;
    conditioning.set(name, b.input(name, type.elemType, dimsOf(input)));
    if (options.guidance !== undefined) {
      unconditional.set(
        name,
        b.input(`${UNCONDITIONAL_PREFIX}${name}`, type.elemType, dimsOf(input)),
      );
    }
  }
  const timestep = source.inputs.find((v) => v.name === spec.timestepInput) as Value;
  const timestepType = (timestep.type as TensorType | undefined)?.elemType ?? DataType.FLOAT;
  const timestepRank = (timestep.type as TensorType | undefined)?.shape?.dims.length ?? 1;

  const shared = new Map<Value, Value>();
  const scalar = (value: number) => b.scalar(value);
  const guided = options.guidance !== undefined;
  const feedsFor = (x: Value): Map<string, Value> => {
    const feeds = new Map<string, Value>();
    if (guided) {
      feeds.set(spec.sampleInput, b.Concat(x, x, { axis: 0 }));
      for (const [name, value] of conditioning) {
        feeds.set(name, b.Concat(unconditional.get(name) as Value, value, { axis: 0 }));
      }
    } else {
      feeds.set(spec.sampleInput, x);
      for (const [name, value] of conditioning) feeds.set(name, value);
    }
    return feeds;
  };

  // The input is standard normal noise; the prior at the first point may be wider (VE).
  const first = plan[0]?.from;
  const scale = first ? initialScale(first) : 1;
  const states: Value[] = [scale === 1 ? noise : b.Mul(noise, scalar(scale))];
  const denoised: Value[] = [];
  plan.forEach((step, i) => {
    const x = states[i] as Value;
    const feeds = feedsFor(x);
    feeds.set(
      spec.timestepInput,
      timestepFeed(
        b,
        timestepType,
        timestepRank,
        feeds.get(spec.sampleInput) as Value,
        step.from,
        `step${i}/timestep`,
      ),
    );
    const [raw] = inlineGraph(source, b.graph, {
      inputs: feeds,
      prefix: `step${i}/`,
      initializers: shared,
    });
    let prediction = raw as Value;
    if (guided) {
      // Equal halves: opset 18 asks for num_outputs when no sizes are given.
      const attributes = (opsets.get("") ?? 17) >= 18 ? { axis: 0, num_outputs: 2 } : { axis: 0 };
      const halves = b.node("Split", [prediction], attributes, {
        outputs: 2,
        name: `step${i}/guidance_split`,
      });
      const [u, c] = halves.outputs as [Value, Value];
      prediction = b.Add(u, b.Mul(b.Sub(c, u), scalar(options.guidance as number)));
    }
    denoised.push(toDenoisedGraph(b, spec, x, prediction, step.from, scalar));
    const c = options.coefficients?.[i] ?? 1;
    const terms = [...step.keep, ...step.update.map((t) => ({ ...t, weight: c * t.weight }))];
    states.push(linearCombination(b, terms, states, denoised, scalar));
  });

  let output = states[states.length - 1] as Value;
  if (options.decoder) {
    const { model, scalingFactor } = options.decoder;
    const latent = b.Mul(output, scalar(1 / scalingFactor));
    const name = model.graph.inputs[0]?.name ?? "latent_sample";
    [output] = inlineGraph(model.graph, b.graph, {
      inputs: new Map([[name, latent]]),
      prefix: "decoder/",
      initializers: new Map(),
      initializerPrefix: "decoder/",
    }) as [Value];
    b.output(b.Identity(output), "image", DataType.FLOAT, dimsOf(model.graph.outputs[0] as Value));
  } else {
    b.output(b.Identity(output), SAMPLER_OUTPUT, DataType.FLOAT, dimsOf(sampleInput));
  }
  const model = b.build({ producerName: "lathe", irVersion: denoiser.irVersion });
  // the inlined graphs still call their model-local functions: the sampler carries them
  for (const [key, fn] of denoiser.functions) model.functions.set(key, fn);
  for (const [key, fn] of options.decoder?.model.functions ?? []) model.functions.set(key, fn);
  return model;
}

function toDenoisedGraph(
  b: ReturnType<typeof createBuilder>,
  spec: DiffusionSpec,
  x: Value,
  prediction: Value,
  point: TimePoint,
  scalar: (v: number) => Value,
): Value {
  const { alpha, sigma } = point;
  switch (spec.prediction) {
    case "epsilon":
      return b.Add(b.Mul(x, scalar(1 / alpha)), b.Mul(prediction, scalar(-sigma / alpha)));
    case "v_prediction":
      return b.Add(b.Mul(x, scalar(alpha)), b.Mul(prediction, scalar(-sigma)));
    case "sample":
      return prediction;
  }
}

function linearCombination(
  b: ReturnType<typeof createBuilder>,
  terms: readonly Term[],
  states: readonly Value[],
  denoised: readonly Value[],
  scalar: (v: number) => Value,
): Value {
  let sum: Value | undefined;
  for (const term of terms) {
    if (term.weight === 0) continue;
    const source = (term.of === "x" ? states : denoised)[term.index] as Value;
    const scaled = term.weight === 1 ? source : b.Mul(source, scalar(term.weight));
    sum = sum ? b.Add(sum, scaled) : scaled;
  }
  if (!sum)
    throw new LatheError("SAMPLER_EXPORT_FAILED", "a solver step has no terms", {
      where: "diffusion sampler export",
    });
  return sum;
}

/** The timestep for every row of `sample` (rank 1), or one scalar (rank 0). */
function timestepFeed(
  b: ReturnType<typeof createBuilder>,
  type: DataType,
  rank: number,
  sample: Value,
  point: TimePoint,
  name: string,
): Value {
  const value = type === DataType.INT64 ? [BigInt(Math.round(point.t))] : [point.t];
  if (rank === 0) return b.initializer(Tensor.fromArray(type, [], value as number[]), name);
  const one = b.initializer(Tensor.fromArray(type, [1], value as number[]), name);
  const rows = b.Slice(b.Shape(sample), b.int64s([0]), b.int64s([1]));
  return b.Expand(one, rows);
}

function dimsOf(value: Value): (number | string | null)[] | undefined {
  const type = value.type as TensorType | undefined;
  return type?.shape ? [...type.shape.dims] : undefined;
}

function mergeOpsets(denoiser: Model, decoder: Model | undefined): Map<string, number> {
  const out = new Map(denoiser.opsetImports);
  if (!decoder) return out;
  for (const [domain, version] of decoder.opsetImports) {
    const have = out.get(domain);
    if (have !== undefined && have !== version) {
      throw new LatheError(
        "SAMPLER_EXPORT_FAILED",
        `the denoiser imports ${domain || "ai.onnx"} opset ${have} and the decoder opset ${version}`,
        {
          where: "diffusion sampler export",
          hint: "convert both components to one opset first (lathe convert --opset N)",
        },
      );
    }
    out.set(domain, version);
  }
  return out;
}
