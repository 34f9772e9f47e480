import {
  type AdapterUse,
  convertOpset,
  isLatheError,
  LatheError,
  loadModel,
  type Model,
  NEWEST_CONVERTIBLE_OPSET,
  OLDEST_CONVERTIBLE_OPSET,
  saveModel,
  Tensor,
} from "@lathe/core";
import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../base-command.js";
import { formatBytes } from "../format/units.js";

interface ConvertResult {
  input: string;
  output: string;
  from: number;
  to: number;
  adapters: readonly AdapterUse[];
  compatibleNodes: number;
  irVersion: number;
}

export default class Convert extends BaseCommand {
  static override summary = "Convert a model's default-domain opset, exactly or not at all.";
  static override description =
    `Raises the ai.onnx opset (from ${OLDEST_CONVERTIBLE_OPSET} up to ${NEWEST_CONVERTIBLE_OPSET}) and rewrites every node whose op's signature changed on the way: attributes that became inputs, Upsample → Resize, changed defaults made explicit (docs/opset-conversion.md lists every adapter). When a node cannot be converted exactly, nothing is written and the error names each such node and why. Weights kept in external data stay in external data.`;
  static override examples = [
    "<%= config.bin %> <%= command.id %> model.onnx --opset 17 -o model-17.onnx",
    "<%= config.bin %> <%= command.id %> model.onnx -o model-23.onnx --json",
  ];
  static override enableJsonFlag = true;
  static override args = {
    model: Args.string({ description: "Path of the .onnx file.", required: true }),
  };
  static override flags = {
    opset: Flags.integer({
      description: "The default-domain opset to convert to.",
      default: NEWEST_CONVERTIBLE_OPSET,
      min: OLDEST_CONVERTIBLE_OPSET,
      max: NEWEST_CONVERTIBLE_OPSET,
    }),
    output: Flags.string({ char: "o", description: "Output .onnx file.", required: true }),
  };

  async run(): Promise<ConvertResult> {
    const { args, flags } = await this.parse(Convert);
    const model = await loadModel(args.model);
    const conversion = withFile(args.model, () => convertOpset(model, flags.opset));
    const saved = await saveModel(
      model,
      flags.output,
      usesExternalData(model) ? { externalData: { threshold: 1024 } } : {},
    );
    this.log(`opset ${conversion.from} → ${conversion.to} (IR version ${model.irVersion})`);
    if (conversion.adapters.length === 0) this.log("no node needed rewriting");
    for (const use of conversion.adapters)
      this.log(`  ${use.adapter}: ${use.nodes} × ${use.op} (at opset ${use.version})`);
    this.log(`wrote ${saved.path} (${formatBytes(saved.bytes)})`);
    return {
      input: args.model,
      output: saved.path,
      from: conversion.from,
      to: conversion.to,
      adapters: conversion.adapters,
      compatibleNodes: conversion.compatibleNodes,
      irVersion: model.irVersion,
    };
  }
}

/** A refusal names the model file, which the converter does not know. */
function withFile<T>(file: string, convert: () => T): T {
  try {
    return convert();
  } catch (error) {
    if (!isLatheError(error)) throw error;
    throw new LatheError(error.code, error.message, {
      where: file,
      ...(error.hint ? { hint: error.hint } : {}),
      cause: error,
    });
  }
}

function usesExternalData(model: Model): boolean {
  for (const value of model.graph.initializers.values())
    if (value.constValue instanceof Tensor && value.constValue.external) return true;
  return false;
}
