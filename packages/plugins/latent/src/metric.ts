import {
  createPassRandom,
  defineMetric,
  LatheError,
  type Model,
  type ModelBundle,
  type SessionFactory,
  Tensor,
} from "@lathe/core";
import { decodedPsnrOptionsSchema } from "./generated/options.js";
import { smoothImage } from "./pass.js";

export interface DecodedPsnrOptions {
  /**
   * Generated images encoded and decoded by both bundles.
   * @integer
   * @minimum 1
   * @default 8
   */
  samples: number;
}

/**
 * `latent/decoded-psnr`: encode → decode the same images with the candidate VAE and with the
 * reference, and compare the decoded images (PSNR, images in [-1, 1]); also the candidate's
 * latent channels. This judges a latent reduction end to end, where core/fidelity cannot (the
 * encoder's output shrinks).
 */
export const decodedPsnrMetric = defineMetric<DecodedPsnrOptions>({
  id: "latent/decoded-psnr",
  summary:
    "PSNR of the candidate VAE's encode–decode round trip against the reference's, and its latent channels.",
  options: decodedPsnrOptionsSchema,
  values: { psnr: "higher", "latent-channels": "lower" },
  deterministic: true,
  async measure(candidate, context) {
    const images = await context.shared(
      `latent/images:${context.options.samples}:${context.seed}`,
      async () => {
        const config = (context.reference.metadata.vaeConfig ?? {}) as Record<string, unknown>;
        const side = typeof config.sample_size === "number" ? config.sample_size : 64;
        const random = createPassRandom(context.seed, "latent/decoded-psnr", "images");
        return Array.from({ length: context.options.samples }, () =>
          smoothImage([3, side, side], random),
        );
      },
    );
    const reference = await context.shared(
      `latent/reference:${context.options.samples}:${context.seed}`,
      () => roundTrip(context.reference, context.sessions, images),
    );
    const ours = await roundTrip(candidate, context.sessions, images);
    let error = 0;
    for (let i = 0; i < ours.length; i++) error += ((ours[i] ?? 0) - (reference[i] ?? 0)) ** 2;
    const mse = error / Math.max(ours.length, 1);
    const latent = part(candidate, "vae_decoder").graph.inputs[0]?.type;
    const channels = latent?.kind === "tensor" ? latent.shape?.dims[1] : undefined;
    return {
      psnr: mse === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10(4 / mse),
      "latent-channels": typeof channels === "number" ? channels : Number.NaN,
    };
  },
});

async function roundTrip(
  bundle: ModelBundle,
  sessions: SessionFactory,
  images: Tensor[],
): Promise<Float32Array> {
  const encoder = part(bundle, "vae_encoder");
  const decoder = part(bundle, "vae_decoder");
  const encoded = await sessions.run(
    encoder,
    images.map((image) => ({ [encoder.graph.inputs[0]?.name ?? "sample"]: image })),
  );
  const latents = encoded.map((out) => {
    const parameters = Object.values(out)[0] as Tensor;
    const [n = 1, twice = 0, h = 1, w = 1] = parameters.dims;
    const channels = twice / 2;
    // The posterior mean: the first half of the channels.
    const values = (parameters.toArray() as Float32Array).slice(0, n * channels * h * w);
    return {
      [decoder.graph.inputs[0]?.name ?? "latent_sample"]: tensorLike(
        parameters,
        [n, channels, h, w],
        values,
      ),
    };
  });
  const decoded = await sessions.run(decoder, latents);
  return Float32Array.from(
    decoded.flatMap((out) => [...((Object.values(out)[0] as Tensor).toArray() as Float32Array)]),
  );
}

function tensorLike(like: Tensor, dims: number[], values: Float32Array): Tensor {
  return Tensor.fromArray(like.dataType, dims, values);
}

function part(bundle: ModelBundle, name: string): Model {
  const model = bundle.components.get(name);
  if (!model) {
    throw new LatheError("LATENT_COMPONENT_MISSING", `the bundle has no "${name}"`, {
      where: "latent/decoded-psnr",
      hint: "the metric round-trips images through a VAE bundle's vae_encoder and vae_decoder",
    });
  }
  return model;
}
