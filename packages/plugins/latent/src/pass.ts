import {
  type DataRecord,
  DataType,
  definePass,
  LatheError,
  type Model,
  type ModelBundle,
  type PassContext,
  type PassStatistics,
  type SessionFactory,
  Tensor,
  type TensorType,
} from "@lathe/core";
import { denoiserLayers, foldDenoiser } from "./denoiser-fold.js";
import { samplesFromDenoiser } from "./denoiser-samples.js";
import {
  decoderPostQuantConv,
  encoderQuantConv,
  foldDecoder,
  foldEncoder,
  type Projection,
} from "./fold.js";
import { pcaChannelsOptionsSchema } from "./generated/options.js";
import { explainedVariance, Moments, symmetricEigen } from "./pca.js";

/** Options of `latent/pca-channels`. */
export interface PcaChannelsOptions {
  /**
   * Latent channels to keep. Without it, the smallest k that keeps `explainedVariance` (and
   * `minPsnr`, when given) is chosen.
   * @integer
   * @minimum 1
   */
  k?: number;
  /**
   * Share of the latent variance the kept channels must explain when `k` is not given.
   * @exclusiveMinimum 0
   * @maximum 1
   * @default 0.99
   */
  explainedVariance: number;
  /**
   * Smallest decoded PSNR (dB, against decoding the full latent) the kept channels must reach
   * when `k` is not given.
   */
  minPsnr?: number;
  /**
   * A recipe data set to calibrate on: images (input `sample`, [batch, 3, H, W] in [-1, 1]) for a
   * VAE; without it, images are generated. For a bundle without a VAE (the denoiser's sample is
   * the data itself, as zoo gmm-diffusion's) it holds data samples under the denoiser's sample
   * input name; without it, samples are drawn from the denoiser (DDIM, `sampleSteps`).
   */
  data?: string;
  /**
   * DDIM steps when a VAE-less bundle names no data set and the calibration samples are drawn
   * from the denoiser itself.
   * @integer
   * @minimum 1
   * @default 50
   */
  sampleSteps: number;
  /**
   * Images encoded (or, without a VAE, data samples read or drawn) for the statistics.
   * @integer
   * @minimum 1
   * @default 16
   */
  samples: number;
  /**
   * Generated images' size [3, H, W] when no data set is named (default: the VAE config's sample_size).
   * @minItems 3
   * @maxItems 3
   */
  imageShape?: number[];
  /**
   * The VAE encoder component (Optimum's export name).
   * @default "vae_encoder"
   */
  encoder: string;
  /**
   * The VAE decoder component.
   * @default "vae_decoder"
   */
  decoder: string;
  /**
   * A denoiser component to fold the same basis into (its input layer, conv_in, and output
   * layer, conv_out), so the whole pipeline, diffusion included, runs in k channels. The basis
   * is then uncentered (the top eigenvectors of E[z·zᵀ], no mean subtracted): diffusion's
   * forward process shrinks latents toward the origin, so only a subspace through it survives.
   */
  denoiser?: string;
}

export const pcaChannels = definePass<PcaChannelsOptions>({
  id: "latent/pca-channels",
  summary:
    "Keeps the k principal directions of a VAE's latent, folded exactly into the encoder and decoder.",
  description:
    "Encodes calibration images, takes the posterior mean at every position, and folds the top-k principal components into the encoder's quant_conv (mean rows, with the mean shift in the bias; log-variance projected) and the decoder's post_quant_conv (1×1 Convs are inserted where the VAE has none). The latent shrinks from C to k channels; decoding the k-channel latent equals decoding its reconstruction μ + U_k·z′. With `denoiser`, the same (uncentered) basis is folded into the denoiser's conv_in/conv_out so diffusion runs in k channels; a bundle without a VAE (data-space diffusion) is calibrated on data samples.",
  options: pcaChannelsOptionsSchema,
  async run(bundle, context) {
    const options = context.options;
    const denoiser = options.denoiser ? component(bundle, options.denoiser, "denoiser") : undefined;
    const layers = denoiser ? denoiserLayers(denoiser.model, denoiser.name) : undefined;
    // Without a VAE the denoiser's sample is the data: PCA of data samples, nothing to decode.
    const vae =
      !denoiser || bundle.components.has(options.encoder) || bundle.components.has(options.decoder)
        ? {
            encoder: component(bundle, options.encoder, "encoder"),
            decoder: component(bundle, options.decoder, "decoder"),
          }
        : undefined;
    const channels = vae ? latentChannels(vae.decoder) : (layers?.channels ?? 0);
    if (layers && layers.channels !== channels) {
      throw new LatheError(
        "LATENT_PLACEMENT_UNCLEAR",
        `the denoiser's sample has ${layers.channels} channels but the VAE's latent ${channels}`,
        {
          where: `component ${options.denoiser}`,
          hint: "name the denoiser that runs on this VAE's latent",
        },
      );
    }
    const latents = vae
      ? await encodeMeans(
          context.sessions,
          vae.encoder,
          await calibrationImages(bundle, vae.encoder, options, context),
          channels,
        )
      : options.data
        ? await dataSamples(layers?.sample.name ?? "sample", channels, options.data, context)
        : await generatedSamples(bundle, denoiser, options, context);
    const moments = new Moments(channels);
    moments.addChannels(latents.values, latents.dims);
    const centered = !denoiser;
    const eigen = symmetricEigen(
      centered ? moments.covariance() : moments.secondMoment(),
      channels,
    );
    const explained = explainedVariance(eigen.values);
    const mean = centered ? moments.mean() : new Float64Array(channels);
    const psnr = vae
      ? await psnrByK(context.sessions, vae.decoder, latents, mean, eigen.vectors, channels)
      : undefined;
    if (!psnr && options.minPsnr !== undefined) {
      throw new LatheError(
        "LATENT_K_INVALID",
        "minPsnr needs a VAE decoder to decode with, and this bundle has none",
        {
          where: "options.minPsnr",
          hint: "choose k by `k` or `explainedVariance` for data-space diffusion",
        },
      );
    }
    const k = options.k ?? chooseK(explained, psnr, options);
    if (k > channels) {
      throw new LatheError(
        "LATENT_K_INVALID",
        `k = ${k}, but the latent has ${channels} channels`,
        {
          where: "options.k",
          hint: `choose k from 1 to ${channels}`,
        },
      );
    }
    for (let i = 0; i < channels; i++) {
      context.logger.info(
        `k = ${i + 1}: explained ${centered ? "variance" : "second moment"} ${(100 * (explained[i] ?? 0)).toFixed(4)} %${psnr ? `, decoded PSNR ${fmtDb(psnr[i])}` : ""}`,
      );
    }
    const basis = new Float64Array(channels * k);
    for (let j = 0; j < channels; j++)
      for (let i = 0; i < k; i++) basis[j * k + i] = eigen.vectors[j * channels + i] ?? 0;
    const projection: Projection = { channels, k, mean, basis };
    if (vae) {
      const quant = encoderQuantConv(vae.encoder.model, channels);
      const post = decoderPostQuantConv(vae.decoder.model, channels);
      if (!quant.node)
        context.logger.info("the encoder has no quant_conv: a 1×1 Conv is added after its output");
      if (!post.node)
        context.logger.info(
          "the decoder has no post_quant_conv: a 1×1 Conv is added after its input",
        );
      foldEncoder(vae.encoder.model, quant, projection);
      foldDecoder(vae.decoder.model, post, projection);
    }
    const folded = denoiser && layers ? foldDenoiser(denoiser.model, layers, basis, k) : undefined;
    if (denoiser && layers) {
      context.logger.info(
        `folded the basis into ${denoiser.name}'s ${layers.input.node.name || layers.input.kind} and ${layers.output.node.name || layers.output.kind}: it takes and returns ${k} channels`,
      );
    }
    const metadata = {
      ...bundle.metadata,
      latentChannels: k,
      latentPca: {
        channels,
        k,
        centered,
        mean: [...mean],
        basis: Array.from({ length: channels }, (_, j) => [...basis.slice(j * k, (j + 1) * k)]),
        explainedVariance: explained,
        ...(psnr ? { decodedPsnr: psnr } : {}),
        // Without a VAE the k coordinates are of the data: samplers lift them back by the basis.
        ...(denoiser ? { denoiser: denoiser.name, dataSpace: !vae } : {}),
        samples: latents.dims[0],
        positions: moments.count,
      },
    };
    const statistics: PassStatistics = {
      k,
      channels,
      "explained-variance": round(explained[k - 1] ?? 1),
      "latent-bytes-ratio": round(k / channels),
    };
    if (psnr) statistics["decoded-psnr"] = round(psnr[k - 1] ?? Number.POSITIVE_INFINITY);
    if (denoiser && folded) {
      statistics.denoiser = denoiser.name;
      statistics["denoiser-folded-weights"] = `${folded.before} → ${folded.after}`;
    }
    explained.forEach((e, i) => {
      statistics[`explained.k${i + 1}`] = round(e);
      if (psnr) statistics[`psnr.k${i + 1}`] = round(psnr[i] ?? Number.POSITIVE_INFINITY);
    });
    const components = new Map(bundle.components);
    // Even with k = C the latent is rotated onto its principal axes: the model changed.
    return { bundle: { components, metadata }, modified: true, statistics };
  },
});

interface Part {
  readonly name: string;
  readonly model: Model;
}

function component(bundle: ModelBundle, name: string, role: string): Part {
  const model = bundle.components.get(name);
  if (!model) {
    throw new LatheError(
      "LATENT_COMPONENT_MISSING",
      `the bundle has no ${role} component "${name}"`,
      {
        where: `options.${role}`,
        hint: `the bundle has ${[...bundle.components.keys()].join(", ")}; name the VAE ${role} (Optimum exports vae_encoder and vae_decoder)`,
      },
    );
  }
  return { name, model };
}

function latentChannels(decoder: Part): number {
  const dims = (decoder.model.graph.inputs[0]?.type as TensorType | undefined)?.shape?.dims;
  const c = dims?.[1];
  if (typeof c !== "number") {
    throw new LatheError(
      "LATENT_PLACEMENT_UNCLEAR",
      `the decoder's input does not say its channel count`,
      {
        where: `${decoder.name} input`,
        hint: "the latent input must be [batch, C, h, w] with a static C",
      },
    );
  }
  return c;
}

async function calibrationImages(
  bundle: ModelBundle,
  encoder: Part,
  options: PcaChannelsOptions,
  context: PassContext<PcaChannelsOptions>,
): Promise<DataRecord[]> {
  const input = encoder.model.graph.inputs[0]?.name ?? "sample";
  if (options.data) {
    const records: DataRecord[] = [];
    for await (const record of context.data(options.data).records()) {
      if (!record[input]) {
        throw new LatheError(
          "LATENT_DATA_INVALID",
          `a record of "${options.data}" has no "${input}"`,
          {
            where: `data.${options.data}`,
            hint: `the encoder's input is ${input}: [batch, 3, H, W] images in [-1, 1]`,
          },
        );
      }
      records.push({ [input]: record[input] as Tensor });
      context.progress.advance(0, `${records.length} images`);
      if (records.length >= options.samples) break;
    }
    return records;
  }
  const config = (bundle.metadata.vaeConfig ?? {}) as Record<string, unknown>;
  const side = typeof config.sample_size === "number" ? config.sample_size : undefined;
  const shape = options.imageShape ?? (side ? [3, side, side] : undefined);
  if (!shape) {
    throw new LatheError(
      "LATENT_SHAPE_UNKNOWN",
      "no image size to generate calibration images of",
      {
        where: "options.imageShape",
        hint: "name a data set of images (`data`) or give `imageShape: [3, H, W]`",
      },
    );
  }
  context.logger.warn(
    `calibrating on ${options.samples} generated images (smooth random fields): name a data set of real images (\`data\`) for a basis that fits real latents`,
  );
  const random = context.random;
  return Array.from({ length: options.samples }, () => ({ [input]: smoothImage(shape, random) }));
}

/** A random image with structure at several scales (sums of low-frequency waves), in [-1, 1]. */
export function smoothImage(
  shape: readonly number[],
  random: { uniform(): number; normal(): number },
): Tensor {
  const [c = 3, h = 1, w = 1] = shape;
  const values = new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++) {
    const waves = Array.from({ length: 6 }, () => ({
      fy: random.uniform() * 4,
      fx: random.uniform() * 4,
      phase: random.uniform() * 2 * Math.PI,
      amplitude: random.normal() * 0.4,
    }));
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let v = 0;
        for (const wave of waves)
          v +=
            wave.amplitude *
            Math.sin(
              (2 * Math.PI * (wave.fy * y)) / h + (2 * Math.PI * (wave.fx * x)) / w + wave.phase,
            );
        values[(ch * h + y) * w + x] = Math.tanh(v);
      }
    }
  }
  return Tensor.fromArray(DataType.FLOAT, [1, c, h, w], values);
}

/** A VAE-less bundle without a data set: the denoiser's own samples (DDIM), with a warning. */
async function generatedSamples(
  bundle: ModelBundle,
  denoiser: Part | undefined,
  options: PcaChannelsOptions,
  context: PassContext<PcaChannelsOptions>,
): Promise<Latents> {
  if (!denoiser) throw new Error("unreachable: a VAE-less bundle is only taken with a denoiser");
  context.logger.warn(
    `calibrating on ${options.samples} samples drawn from ${denoiser.name} itself (DDIM, ${options.sampleSteps} steps): name a data set of real data (\`data\`) for a basis that fits the data rather than the model`,
  );
  return samplesFromDenoiser({
    sessions: context.sessions,
    bundle,
    component: denoiser.name,
    model: denoiser.model,
    count: options.samples,
    steps: options.sampleSteps,
    random: context.random,
  });
}

/**
 * Data samples for a bundle without a VAE: the records of `options.data` under the denoiser's
 * sample input, [batch, C, …], stacked.
 */
async function dataSamples(
  input: string,
  channels: number,
  data: string,
  context: PassContext<PcaChannelsOptions>,
): Promise<Latents> {
  const options = context.options;
  const parts: Float32Array[] = [];
  let rows = 0;
  let rest: number[] = [];
  for await (const record of context.data(data).records()) {
    const tensor = record[input];
    const [n = 0, c, ...plane] = tensor?.dims ?? [];
    if (!tensor || c !== channels || (rows > 0 && plane.join() !== rest.join())) {
      throw new LatheError(
        "LATENT_DATA_INVALID",
        tensor
          ? `a record of "${data}" has "${input}" of dims [${tensor.dims.join(", ")}]; [batch, ${channels}${rest.map((d) => `, ${d}`).join("")}] expected`
          : `a record of "${data}" has no "${input}"`,
        {
          where: `data.${data}`,
          hint: `the denoiser's sample input is "${input}": give data samples [batch, ${channels}, …] under that name`,
        },
      );
    }
    parts.push(Float32Array.from(tensor.toArray() as ArrayLike<number>));
    rows += n;
    rest = plane;
    context.progress.advance(0, `${rows} samples`);
    if (rows >= options.samples) break;
  }
  return { values: joined(parts), dims: [rows, channels, ...rest] };
}

interface Latents {
  readonly values: Float32Array;
  /** [N, C, h, w] */
  readonly dims: readonly number[];
}

/** The posterior means (the first C channels of the encoder's output) of every image, stacked. */
export async function encodeMeans(
  sessions: SessionFactory,
  encoder: Part,
  images: DataRecord[],
  channels: number,
): Promise<Latents> {
  const outputs = await sessions.run(encoder.model, images);
  const parts: Float32Array[] = [];
  let rows = 0;
  let plane: number[] = [];
  for (const out of outputs) {
    const tensor = Object.values(out)[0] as Tensor;
    const [n = 1, c2 = 0, ...rest] = tensor.dims;
    if (c2 !== 2 * channels) {
      throw new LatheError(
        "LATENT_PLACEMENT_UNCLEAR",
        `the encoder returned ${c2} channels; 2 × ${channels} (mean ‖ logvar) expected`,
        {
          where: `${encoder.name} output`,
          hint: "latent/pca-channels expects diffusers' AutoencoderKL encoder output (latent_dist.parameters)",
        },
      );
    }
    const size = rest.reduce((a, b) => a * b, 1);
    const values = tensor.toArray() as Float32Array;
    const means = new Float32Array(n * channels * size);
    for (let b = 0; b < n; b++)
      means.set(
        values.subarray(b * c2 * size, b * c2 * size + channels * size),
        b * channels * size,
      );
    parts.push(means);
    rows += n;
    plane = rest;
  }
  return { values: joined(parts), dims: [rows, channels, ...plane] };
}

/** The batches one after another. */
function joined(parts: readonly Float32Array[]): Float32Array {
  const values = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    values.set(p, offset);
    offset += p.length;
  }
  return values;
}

/**
 * Decoded PSNR for every k: the original decoder on μ + U_k·U_kᵀ(z − μ) against the decoder on z,
 * over the calibration latents (peak-to-peak 2: images in [-1, 1]).
 */
async function psnrByK(
  sessions: SessionFactory,
  decoder: Part,
  latents: Latents,
  mean: Float64Array,
  vectors: Float64Array,
  channels: number,
): Promise<number[]> {
  const input = decoder.model.graph.inputs[0]?.name ?? "latent_sample";
  const decode = async (values: Float32Array) => {
    const [out] = await sessions.run(decoder.model, [
      { [input]: Tensor.fromArray(DataType.FLOAT, latents.dims, values) },
    ]);
    return (Object.values(out ?? {})[0] as Tensor).toArray() as Float32Array;
  };
  const full = await decode(latents.values);
  const plane = latents.dims.slice(2).reduce((a, b) => a * b, 1);
  const rows = latents.dims[0] ?? 0;
  const out: number[] = [];
  for (let k = 1; k <= channels; k++) {
    const projected = new Float32Array(latents.values.length);
    const coordinate = new Float64Array(k);
    for (let b = 0; b < rows; b++) {
      for (let p = 0; p < plane; p++) {
        coordinate.fill(0);
        for (let j = 0; j < channels; j++) {
          const centered = (latents.values[(b * channels + j) * plane + p] ?? 0) - (mean[j] ?? 0);
          for (let i = 0; i < k; i++)
            coordinate[i] = (coordinate[i] ?? 0) + (vectors[j * channels + i] ?? 0) * centered;
        }
        for (let j = 0; j < channels; j++) {
          let v = mean[j] ?? 0;
          for (let i = 0; i < k; i++) v += (vectors[j * channels + i] ?? 0) * (coordinate[i] ?? 0);
          projected[(b * channels + j) * plane + p] = v;
        }
      }
    }
    const image = k === channels ? full : await decode(projected);
    let error = 0;
    for (let i = 0; i < full.length; i++) error += ((image[i] ?? 0) - (full[i] ?? 0)) ** 2;
    const mse = error / Math.max(full.length, 1);
    out.push(mse === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10(4 / mse));
  }
  return out;
}

function chooseK(
  explained: readonly number[],
  psnr: readonly number[] | undefined,
  options: PcaChannelsOptions,
): number {
  for (let i = 0; i < explained.length; i++) {
    const enough = (explained[i] ?? 0) >= options.explainedVariance - 1e-12;
    const sharp = options.minPsnr === undefined || (psnr?.[i] ?? 0) >= options.minPsnr;
    if (enough && sharp) return i + 1;
  }
  return explained.length;
}

function round(value: number): number {
  return Number.isFinite(value) ? Number(value.toPrecision(5)) : value;
}

function fmtDb(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? "∞ (exact)" : `${value.toFixed(2)} dB`;
}
