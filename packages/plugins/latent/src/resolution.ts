import {
  createBuilder,
  DataType,
  definePass,
  LatheError,
  type Model,
  type TensorType,
  tensorType,
  type Value,
} from "@lathe/core";
import { latentResolutionOptionsSchema } from "./generated/options.js";

/** Options of `latent/resolution`. */
export interface LatentResolutionOptions {
  /**
   * Latent height and width the denoiser runs at, as a share of the full size.
   * @exclusiveMinimum 0
   * @exclusiveMaximum 1
   * @default 0.75
   */
  scale: number;
  /**
   * The reduced height and width are rounded to a multiple of this (a UNet with L levels needs
   * 2^(L−1)).
   * @integer
   * @minimum 1
   * @default 8
   */
  multiple: number;
  /**
   * How the reduced latent is brought back to the full size before decoding.
   * @default "linear"
   */
  mode: "linear" | "nearest" | "cubic";
  /**
   * The VAE decoder component of a denoiser bundle.
   * @default "vae_decoder"
   */
  decoder: string;
}

/** What the pass changed the latent size from and to, in the bundle's metadata. */
interface Sizes {
  readonly full: readonly [number, number];
  readonly reduced: readonly [number, number];
}

export const latentResolution = definePass<LatentResolutionOptions>({
  id: "latent/resolution",
  summary:
    "Runs the denoiser at a reduced latent resolution and resizes the latent to the full size before decoding.",
  description:
    "A denoiser's cost grows with its latent's tokens (attention with their square). On a sampler bundle (diffusion/distill-steps, output `sample`), the sample shape in its metadata is scaled and a Resize to the full size is appended to the sampler's output. On a denoiser bundle with a VAE decoder, the sample size in its metadata (diffusersConfig.sample_size) is scaled and the decoder gets a Resize in front, so samplers built from it run at the reduced size and decode at the full one. The denoiser graph is not changed: its spatial dims are dynamic.",
  options: latentResolutionOptionsSchema,
  async run(bundle, context) {
    const options = context.options;
    const metadata = bundle.metadata as Record<string, unknown>;
    const sampler = metadata.sampler as { sampleShape?: number[]; output?: string } | undefined;
    const components = new Map(bundle.components);
    let sizes: Sizes;
    let edited: string;
    if (bundle.components.has("sampler") && Array.isArray(sampler?.sampleShape)) {
      if (sampler.output === "image") {
        throw new LatheError(
          "LATENT_RESOLUTION_UNSUPPORTED",
          "the sampler decodes inside its graph (its output is an image): the latent cannot be resized before decoding there",
          {
            where: "component sampler",
            hint: "run latent/resolution on the denoiser bundle (unet + vae_decoder) before diffusion/distill-steps, or distil without `decoder`",
          },
        );
      }
      const [channels = 4, h = 0, w = 0] = sampler.sampleShape;
      sizes = reduce(h, w, options);
      const model = bundle.components.get("sampler") as Model;
      resizeOutput(model, sizes, options.mode);
      metadata.sampler = { ...sampler, sampleShape: [channels, ...sizes.reduced] };
      edited = "sampler";
    } else {
      const decoder = bundle.components.get(options.decoder);
      const config = metadata.diffusersConfig as { sample_size?: number } | undefined;
      const side = config?.sample_size;
      if (!decoder || typeof side !== "number") {
        throw new LatheError(
          "LATENT_RESOLUTION_UNPLACEABLE",
          `the bundle has neither a sampler (with metadata.sampler.sampleShape) nor a "${options.decoder}" with diffusersConfig.sample_size`,
          {
            where: "bundle",
            hint: `give a diffusion/distill-steps sampler bundle, or a pipeline bundle with its VAE decoder (zoo:unet?vae=tiny); it has ${[...bundle.components.keys()].join(", ")}`,
          },
        );
      }
      sizes = reduce(side, side, options);
      resizeInput(decoder, sizes, options.mode);
      metadata.diffusersConfig = { ...config, sample_size: sizes.reduced[0] };
      edited = options.decoder;
    }
    const tokens = (s: readonly [number, number]) => s[0] * s[1];
    context.logger.info(
      `latent ${sizes.full.join("×")} → ${sizes.reduced.join("×")} (${tokens(sizes.reduced)} of ${tokens(sizes.full)} positions); ${edited} resizes it back (${options.mode})`,
    );
    return {
      bundle: {
        components,
        metadata: { ...metadata, latentResolution: { scale: options.scale, ...sizes } },
      },
      modified: true,
      statistics: {
        "full-size": sizes.full.join("×"),
        "reduced-size": sizes.reduced.join("×"),
        "positions-ratio": Number((tokens(sizes.reduced) / tokens(sizes.full)).toPrecision(4)),
      },
    };
  },
});

function reduce(h: number, w: number, options: LatentResolutionOptions): Sizes {
  const round = (x: number) =>
    Math.max(
      options.multiple,
      Math.round((x * options.scale) / options.multiple) * options.multiple,
    );
  const reduced: [number, number] = [round(h), round(w)];
  if (reduced[0] >= h && reduced[1] >= w) {
    throw new LatheError(
      "LATENT_RESOLUTION_NO_REDUCTION",
      `scale ${options.scale} of a ${h}×${w} latent rounds to ${reduced.join("×")} (multiples of ${options.multiple}): nothing to reduce`,
      { where: "options.scale", hint: "lower `scale` or `multiple`" },
    );
  }
  return { full: [h, w], reduced };
}

/** The sampler's output (and the noise it takes) at the reduced size; a Resize to the full size after. */
function resizeOutput(model: Model, sizes: Sizes, mode: LatentResolutionOptions["mode"]): void {
  const graph = model.graph;
  const output = graph.outputs[0] as Value;
  const b = builderFor(model, "/latent_resolution");
  const resized = resize(b, output, sizes.full, mode);
  const name = output.name;
  output.name = `${name}/reduced`;
  resized.name = name;
  resized.type = withSpatial(output.type as TensorType | undefined, sizes.full);
  graph.outputs[0] = resized;
  for (const input of graph.inputs) {
    const type = input.type as TensorType | undefined;
    if (type?.shape?.dims.length === 4) input.type = withSpatial(type, sizes.reduced);
  }
  output.type = withSpatial(output.type as TensorType | undefined, sizes.reduced);
}

/** The decoder takes the reduced latent and resizes it to the full size first. */
function resizeInput(model: Model, sizes: Sizes, mode: LatentResolutionOptions["mode"]): void {
  const graph = model.graph;
  const input = graph.inputs[0] as Value;
  const readers = [...input.uses()];
  const b = builderFor(model, "/latent_resolution");
  const resized = resize(b, input, sizes.full, mode);
  for (const use of readers) use.node.setInput(use.index, resized);
  input.type = withSpatial(input.type as TensorType | undefined, sizes.reduced);
  graph.sort();
}

function builderFor(model: Model, prefix: string) {
  return createBuilder({
    graph: model.graph,
    opset: model.opset("") ?? 13,
    opsets: Object.fromEntries(model.opsetImports),
    namePrefix: prefix,
  });
}

/** Resize [b, c, h, w] to [b, c, full] (sizes from the batch and channels of x). */
function resize(
  b: ReturnType<typeof builderFor>,
  x: Value,
  full: readonly [number, number],
  mode: LatentResolutionOptions["mode"],
): Value {
  const batchChannels = b.Slice(b.Shape(x), b.int64s([0]), b.int64s([2]));
  const sizes = b.Concat(batchChannels, b.int64s([...full]), { axis: 0 });
  const empty = b.constant([], [0], DataType.FLOAT);
  return b.Resize(x, empty, empty, sizes, {
    mode,
    coordinate_transformation_mode: mode === "nearest" ? "asymmetric" : "half_pixel",
  });
}

function withSpatial(type: TensorType | undefined, spatial: readonly [number, number]) {
  const dims = type?.shape?.dims;
  if (!type || !dims || dims.length !== 4) return type;
  return tensorType(type.elemType, [dims[0] ?? "batch", dims[1] ?? 4, ...spatial]);
}
