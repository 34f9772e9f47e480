import { extname } from "node:path";
import { type Model, SparseTensor, saveBundle, saveModel } from "@lathe/core";
import { buildZooModel, parseAssignments, zooModels } from "@lathe/plugin-zoo";
import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../../base-command.js";
import { formatBytes } from "../../format/units.js";

/** Models above this size are written with external data unless told otherwise. */
const EXTERNAL_DATA_AUTO_BYTES = 256 * 1024 * 1024;

interface ZooBuildResult {
  model: string;
  size: string;
  config: Record<string, number | boolean | string>;
  seed: number;
  files: { path: string; bytes: number }[];
}

export default class ZooBuild extends BaseCommand {
  static override summary = "Build a zoo model and save it as ONNX.";
  static override description =
    "A single-component model is written to the given .onnx path; a bundle (several components, e.g. the VAE) to a folder with one .onnx per component and bundle.json. Large models keep their weights in external data next to the .onnx file.";
  static override examples = [
    "<%= config.bin %> zoo build gpt2 --config size=small -o out/gpt2.onnx",
    "<%= config.bin %> zoo build llama --config size=tiny --config kvCache=true -o out/llama.onnx",
    "<%= config.bin %> zoo build gmm-diffusion -o out/gmm",
  ];
  static override enableJsonFlag = true;
  static override args = {
    name: Args.string({ description: "Model name (see `lathe zoo list`).", required: true }),
  };
  static override flags = {
    config: Flags.string({
      char: "c",
      description: "key=value; `size` picks a preset, other keys override it. Repeatable.",
      multiple: true,
      default: [],
    }),
    output: Flags.string({
      char: "o",
      description: "Output .onnx file, or folder for bundles.",
      required: true,
    }),
    seed: Flags.integer({ description: "Seed of the weights.", default: 0, min: 0 }),
    "external-data": Flags.boolean({
      description: `Store weights of 1 KiB and more in external data (default: when the model is over ${formatBytes(EXTERNAL_DATA_AUTO_BYTES)}).`,
      allowNo: true,
    }),
  };

  async run(): Promise<ZooBuildResult> {
    const { args, flags } = await this.parse(ZooBuild);
    const built = buildZooModel(zooModels, args.name, parseAssignments(flags.config), flags.seed);
    const components = [...built.bundle.components.values()];
    const weightBytes = components.reduce((sum, m) => sum + initializerBytes(m), 0);
    const externalData = flags["external-data"] ?? weightBytes > EXTERNAL_DATA_AUTO_BYTES;
    const options = externalData ? { externalData: { threshold: 1024 } } : {};
    const single = built.bundle.components.size === 1 && extname(flags.output) === ".onnx";
    const results = single
      ? [await saveModel(components[0]!, flags.output, options)]
      : await saveBundle(built.bundle, flags.output, options);
    const files = results.flatMap((r) => [{ path: r.path, bytes: r.bytes }, ...r.externalFiles]);
    for (const f of files) this.log(`wrote ${f.path} (${formatBytes(f.bytes)})`);
    return {
      model: built.model.name,
      size: built.preset,
      config: built.config,
      seed: flags.seed,
      files,
    };
  }
}

function initializerBytes(model: Model): number {
  let bytes = 0;
  for (const { constValue: c } of model.graph.initializers.values()) {
    if (c) bytes += c instanceof SparseTensor ? c.values.byteLength : c.byteLength;
  }
  return bytes;
}
