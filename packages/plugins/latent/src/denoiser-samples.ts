import {
  DataType,
  LatheError,
  type Model,
  type ModelBundle,
  type SessionFactory,
  Tensor,
  type TensorType,
} from "@lathe/core";

/** What to draw calibration samples with when a VAE-less bundle names no data set. */
export interface DenoiserSampling {
  readonly sessions: SessionFactory;
  readonly bundle: ModelBundle;
  readonly component: string;
  readonly model: Model;
  readonly count: number;
  readonly steps: number;
  readonly random: { normal(): number };
}

/**
 * Samples drawn from the denoiser itself: deterministic DDIM (η = 0, diffusers' `trailing`
 * timesteps, the last step returning x̂₀) over its ε-prediction, with the bundle's ᾱ table (the
 * model's `alphas_cumprod` metadata_props, or `metadata.schedule.alphasCumprod`). A model's own
 * samples are what a PCA of its output space needs when no data set is at hand: data on a
 * subspace through the origin gives samples on it, since the last step's x̂₀ = (x − σ·ε̂)/√ᾱ
 * cancels the off-subspace noise.
 */
export async function samplesFromDenoiser(
  sampling: DenoiserSampling,
): Promise<{ values: Float32Array; dims: number[] }> {
  const { model, component, count, steps } = sampling;
  const alphas = alphasCumprod(sampling.bundle, model, component);
  const inputs = model.graph.inputs;
  const sample = inputs[0];
  const timestep = inputs[1];
  const shape = (sample?.type as TensorType | undefined)?.shape?.dims.slice(1);
  const timestepType = (timestep?.type as TensorType | undefined)?.elemType;
  if (
    inputs.length !== 2 ||
    !shape ||
    shape.some((d) => typeof d !== "number") ||
    timestepType !== DataType.FLOAT
  ) {
    throw noSamples(
      component,
      "its inputs are not (sample [batch, static dims…], timestep float32): it cannot be sampled unconditionally here",
    );
  }
  const width = (shape as number[]).reduce((a, b) => a * b, 1);
  const dims = [count, ...(shape as number[])];
  const x = Float64Array.from({ length: count * width }, () => sampling.random.normal());
  const total = alphas.length;
  const visited = Array.from(
    { length: steps },
    (_, i) => Math.round(total - (i * total) / steps) - 1,
  );
  for (let s = 0; s < visited.length; s++) {
    const t = visited[s] ?? 0;
    const next = visited[s + 1];
    const alphaBar = alphas[t] ?? 1;
    const alphaNext = next === undefined ? 1 : (alphas[next] ?? 1);
    const [out] = await sampling.sessions.run(model, [
      {
        [sample?.name ?? "sample"]: Tensor.fromArray(DataType.FLOAT, dims, Float32Array.from(x)),
        [timestep?.name ?? "timestep"]: Tensor.fromArray(
          DataType.FLOAT,
          [count],
          new Float32Array(count).fill(t),
        ),
      },
    ]);
    const epsilon = (Object.values(out ?? {})[0] as Tensor | undefined)?.toArray() as
      | Float32Array
      | undefined;
    if (!epsilon || epsilon.length !== x.length)
      throw noSamples(component, `its prediction is not the sample's size (${x.length} values)`);
    for (let i = 0; i < x.length; i++) {
      const eps = epsilon[i] ?? 0;
      const x0 = ((x[i] ?? 0) - Math.sqrt(1 - alphaBar) * eps) / Math.sqrt(alphaBar);
      x[i] = Math.sqrt(alphaNext) * x0 + Math.sqrt(1 - alphaNext) * eps;
    }
  }
  return { values: Float32Array.from(x), dims };
}

function alphasCumprod(bundle: ModelBundle, model: Model, component: string): number[] {
  const schedule = (bundle.metadata as Record<string, unknown>).schedule as
    | { alphasCumprod?: unknown; predictionType?: unknown }
    | undefined;
  if (schedule?.predictionType !== undefined && schedule.predictionType !== "epsilon")
    throw noSamples(component, `it predicts ${String(schedule.predictionType)}, not the noise ε`);
  const fromProps = model.metadataProps.get("alphas_cumprod");
  const table = fromProps ? (JSON.parse(fromProps) as unknown) : schedule?.alphasCumprod;
  if (!Array.isArray(table) || table.length < 2 || !table.every((v) => typeof v === "number")) {
    throw noSamples(component, "neither its metadata_props nor the bundle carry alphas_cumprod");
  }
  return table as number[];
}

function noSamples(component: string, why: string): LatheError {
  return new LatheError(
    "LATENT_DATA_INVALID",
    `cannot draw calibration samples from the denoiser "${component}": ${why}`,
    {
      where: "options.data",
      hint: "name a recipe data set of data samples (`data`) to find the basis on",
    },
  );
}
