import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import {
  type GraphOptimizationLevel,
  LatheError,
  type Model,
  type ModelBundle,
  type ProfileResult,
  profileModel,
} from "@lathe/core";
import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../base-command.js";
import { targetFlags, targetFrom } from "../evaluate/flags.js";
import { formatProfile } from "../format/profile.js";
import { loadModelSource, modelSourceScheme } from "../model-source.js";

export interface ProfileJson extends ProfileResult {
  readonly model: string;
  readonly component?: string;
}

export default class Profile extends BaseCommand {
  static override summary =
    "Profile one model on ONNX Runtime: where the time goes, and what pass to try.";
  static override description =
    "Runs the model with ONNX Runtime's profiler on generated inputs (--shape binds symbolic dims), leaves the warm-up run out, and aggregates the node events by node and by op type (a node's time is its median call times its calls, so a descheduled call does not distort it). It says which execution provider ran the nodes, and suggests passes where a pattern explains the cost: unfused attention → flash-attention/rewrite, float MatMul/Gemm → quantization. docs/runtime.md explains the numbers.";
  static override examples = [
    "<%= config.bin %> <%= command.id %> model.onnx --shape input_ids=1x128",
    "<%= config.bin %> <%= command.id %> 'zoo:gpt2?size=tiny' --shape input_ids=1x64 --top 5",
    "<%= config.bin %> <%= command.id %> out/vae --component vae_decoder --shape latent_sample=1x4x32x32 --json",
  ];
  static override enableJsonFlag = true;
  static override args = {
    model: Args.string({
      description: "An .onnx file, a bundle folder, or a model source (zoo:gpt2?size=tiny).",
      required: true,
    }),
  };
  static override flags = {
    ...targetFlags,
    runs: Flags.integer({
      description: "Profiled runs (after one warm-up run).",
      default: 10,
      min: 1,
    }),
    warmup: Flags.integer({
      description: "Runs first, left out of the numbers.",
      default: 1,
      min: 0,
    }),
    top: Flags.integer({ description: "Rows in the node and op tables.", default: 10, min: 1 }),
    component: Flags.string({
      description: "The component of a bundle to profile (default: its only one).",
    }),
    optimization: Flags.string({
      description: "ONNX Runtime graph optimization level.",
      options: ["disabled", "basic", "extended", "all"],
      default: "all",
    }),
    seed: Flags.integer({ description: "Seed of the generated inputs.", default: 0, min: 0 }),
  };

  async run(): Promise<ProfileJson> {
    const { args, flags } = await this.parse(Profile);
    const target = targetFrom(flags);
    const { model, component } = await openModel(args.model, flags.component);
    const result = await profileModel(model, {
      ...(component && typeof model === "string" ? { component } : {}),
      target,
      runs: flags.runs,
      warmup: flags.warmup,
      seed: flags.seed,
      shapesFrom: "--shape",
      graphOptimizationLevel: flags.optimization as GraphOptimizationLevel,
      logger: { warn: (m) => this.warn(m), info: (m) => this.log(m) },
    });
    if (!this.jsonEnabled()) this.log(formatProfile(result, flags.top));
    return { model: args.model, ...(component ? { component } : {}), ...result };
  }
}

/** A file path as is (ORT finds its external data); a folder or a model source as a bundle. */
async function openModel(
  text: string,
  component: string | undefined,
): Promise<{ model: string | Model; component?: string }> {
  const scheme = modelSourceScheme(text);
  let bundle: ModelBundle;
  if (scheme !== undefined) {
    bundle = await loadModelSource(text, scheme);
  } else {
    const path = resolve(text);
    const info = await stat(path).catch(() => undefined);
    if (!info)
      throw new LatheError("FILE_NOT_FOUND", "no such file", {
        where: path,
        hint: "check the path",
      });
    if (!info.isDirectory()) {
      if (component)
        throw new LatheError(
          "FLAG_INVALID",
          "--component is for bundle folders and model sources",
          { where: text },
        );
      return { model: path };
    }
    // A folder stays on disk: ORT reads each component with its external data.
    return { model: path, ...(component ? { component } : {}) };
  }
  const names = [...bundle.components.keys()];
  const name = component ?? (names.length === 1 ? names[0] : undefined);
  const model = name === undefined ? undefined : bundle.components.get(name);
  if (!model) {
    throw new LatheError(
      "COMPONENT_UNKNOWN",
      component
        ? `the bundle has no component "${component}"`
        : `the bundle has ${names.length} components`,
      { where: text, hint: `pick one with --component: ${names.join(", ")}` },
    );
  }
  return { model, ...(names.length > 1 || component ? { component: name! } : {}) };
}
