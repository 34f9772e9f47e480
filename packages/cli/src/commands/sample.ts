import { mkdir, rename, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  createCpuSessions,
  DataType,
  encodeNpy,
  LatheError,
  loadBundle,
  type ModelBundle,
  Tensor,
} from "@lathe/core";
import { BASELINES, drawSamples, SOLVERS } from "@lathe/plugin-diffusion";
import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../base-command.js";
import { encodePng } from "../format/png.js";
import { loadModelSource, modelSourceScheme } from "../model-source.js";

export interface SampleJson {
  readonly bundle: string;
  readonly count: number;
  readonly dims: readonly number[];
  readonly files: readonly string[];
  readonly msPerSample: number;
  readonly denoiserCalls: number;
  /** Set when the bundle diffuses in k reduced dimensions and the samples were lifted to the data's. */
  readonly lifted?: { readonly k: number; readonly channels: number };
}

export default class Sample extends BaseCommand {
  static override summary =
    "Draw samples from a diffusion bundle: its ONNX sampler, or its denoiser with a solver loop.";
  static override description =
    "A bundle written by diffusion/distill-steps runs its whole K-step sampler in one ONNX Runtime call. A denoiser bundle (one with a noise schedule in its metadata) runs a solver loop in TypeScript: --steps with --solver and --schedule, or the 200-step teacher. Writes samples.npy, and a PNG per sample when the output is an RGB image. A bundle that diffuses in k reduced dimensions of its data (latent/pca-channels with `denoiser`, no VAE) writes its samples lifted back to the data's width.";
  static override examples = [
    "<%= config.bin %> <%= command.id %> out/diffusion-steps-gmm/selected --count 256 -o samples/",
    "<%= config.bin %> <%= command.id %> 'zoo:gmm-diffusion?size=d16' --steps 8 --solver dpmpp-2m --schedule logsnr",
    "<%= config.bin %> <%= command.id %> out/diffusion-steps-unet/selected --count 2 -o images/",
  ];
  static override enableJsonFlag = true;
  static override args = {
    bundle: Args.string({
      description: "A bundle folder, or a model source (zoo:gmm-diffusion?size=d16).",
      required: true,
    }),
  };
  static override flags = {
    count: Flags.integer({ description: "Samples to draw.", default: 4, min: 1 }),
    seed: Flags.integer({
      description: "Seed of the noise (and of generated conditioning).",
      default: 0,
    }),
    steps: Flags.integer({
      description: "Denoiser bundles: solver steps (default: the 200-step teacher).",
      min: 1,
    }),
    solver: Flags.string({
      description: "Denoiser bundles: the solver.",
      options: [...SOLVERS],
      default: "dpmpp-2m",
    }),
    schedule: Flags.string({
      description: "Denoiser bundles with --steps: the step schedule.",
      options: [...BASELINES],
      default: "logsnr",
    }),
    output: Flags.string({
      char: "o",
      description: "Folder for samples.npy (and PNGs).",
      default: "samples",
    }),
  };

  async run(): Promise<SampleJson> {
    const { args, flags } = await this.parse(Sample);
    const bundle = await openBundle(args.bundle);
    let last = "";
    const started = performance.now();
    const samples = await drawSamples(bundle, createCpuSessions(), {
      count: flags.count,
      seed: flags.seed,
      solver: flags.solver as (typeof SOLVERS)[number],
      schedule: flags.schedule as (typeof BASELINES)[number],
      ...(flags.steps ? { steps: flags.steps } : {}),
      onStep: (done, total) => {
        const line = `step ${done}/${total}`;
        if (process.stderr.isTTY && line !== last) process.stderr.write(`\r${line}`);
        last = line;
      },
    });
    if (process.stderr.isTTY) process.stderr.write("\r\x1b[K");
    const ms = (performance.now() - started) / flags.count;
    const dir = resolve(flags.output);
    await mkdir(dir, { recursive: true });
    const files = ["samples.npy"];
    await writeAtomically(
      join(dir, "samples.npy"),
      encodeNpy(Tensor.fromArray(DataType.FLOAT, samples.dims, samples.values)),
    );
    const [count, channels, height, width] = samples.dims;
    if (samples.dims.length === 4 && channels === 3 && height && width) {
      for (let i = 0; i < (count ?? 0); i++) {
        const file = `sample-${i}.png`;
        const plane = 3 * height * width;
        await writeAtomically(
          join(dir, file),
          encodePng(samples.values.subarray(i * plane, (i + 1) * plane), height, width),
        );
        files.push(file);
      }
    }
    this.log(
      `wrote ${flags.count} samples [${samples.dims.join(", ")}] to ${flags.output}: ${files.length > 3 ? `${files.slice(0, 3).join(", ")}, …` : files.join(", ")}`,
    );
    if (samples.lifted) {
      this.log(
        `lifted from the ${samples.lifted.k} reduced dimensions the bundle diffuses in to the data's ${samples.lifted.channels} (metadata latentPca.basis)`,
      );
    }
    this.log(`${ms.toFixed(2)} ms per sample, ${samples.calls} denoiser calls each`);
    return {
      bundle: args.bundle,
      count: flags.count,
      dims: samples.dims,
      files,
      msPerSample: ms,
      denoiserCalls: samples.calls,
      ...(samples.lifted ? { lifted: samples.lifted } : {}),
    };
  }
}

async function openBundle(text: string): Promise<ModelBundle> {
  const scheme = modelSourceScheme(text);
  if (scheme !== undefined) return loadModelSource(text, scheme);
  const path = resolve(text);
  const info = await stat(path).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new LatheError("BUNDLE_NOT_FOUND", info ? "not a bundle folder" : "no such folder", {
      where: path,
      hint: "pass a bundle folder written by `lathe run` (e.g. out/<recipe>/selected) or a model source such as zoo:gmm-diffusion?size=d16",
    });
  }
  return loadBundle(path);
}

/** No half-written file is left behind if the process stops while writing. */
async function writeAtomically(file: string, bytes: Uint8Array): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, bytes);
  await rename(temp, file);
}
