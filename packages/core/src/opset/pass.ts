import { convertOpsetPassOptionsSchema } from "../generated/options.js";
import { definePass, definePlugin } from "../plugin/define.js";
import { type PassStatistics, PLUGIN_API_VERSION } from "../plugin/types.js";
import { LATHE_VERSION } from "../version.js";
import { NEWEST_CONVERTIBLE_OPSET, OLDEST_CONVERTIBLE_OPSET } from "./adapters/table.js";
import { convertOpset } from "./convert.js";

export interface ConvertOpsetPassOptions {
  // The range is OLDEST_CONVERTIBLE_OPSET..NEWEST_CONVERTIBLE_OPSET (a test keeps them equal).
  /**
   * The default-domain opset to convert to (1–23).
   * @integer
   * @minimum 1
   * @maximum 23
   * @default 23
   */
  readonly opset: number;
}

/**
 * `onnx/convert-opset`: raises every component's default-domain opset, exactly or not at all
 * (the step fails naming each node that cannot follow). A component already at or above the
 * asked opset is left as it is.
 */
export const convertOpsetPass = definePass<ConvertOpsetPassOptions>({
  id: "onnx/convert-opset",
  summary: `Converts the model's default-domain opset (up, from ${OLDEST_CONVERTIBLE_OPSET} to ${NEWEST_CONVERTIBLE_OPSET}), rewriting every op whose signature changed on the way`,
  description:
    "Attributes that became inputs (Clip, Slice, Pad, Split, Squeeze/Unsqueeze, Reduce*, TopK, Dropout, DFT), Upsample → Resize, Resize's explicit coordinate modes, Softmax's 2-D coercion, BatchNormalization's removed attribute and outputs, and the other adapters listed in docs/opset-conversion.md. A node that cannot be converted exactly fails the step, named with the reason.",
  options: convertOpsetPassOptionsSchema,
  run(bundle, ctx) {
    const statistics: PassStatistics = { "components-converted": 0, "nodes-rewritten": 0 };
    let modified = false;
    for (const [name, model] of bundle.components) {
      const from = model.opset("");
      if (from !== undefined && from >= ctx.options.opset) {
        ctx.logger.info(`component "${name}" already imports opset ${from}: left as it is`);
        continue;
      }
      const conversion = convertOpset(model, ctx.options.opset);
      modified = true;
      statistics["components-converted"] = Number(statistics["components-converted"]) + 1;
      for (const use of conversion.adapters) {
        statistics["nodes-rewritten"] = Number(statistics["nodes-rewritten"]) + use.nodes;
        const key = `adapter.${use.adapter}`;
        statistics[key] = Number(statistics[key] ?? 0) + use.nodes;
      }
      const rewrites = conversion.adapters.map(
        (a) => `${a.adapter} ×${a.nodes} (${a.op} at ${a.version})`,
      );
      ctx.logger.info(
        `component "${name}": opset ${conversion.from} → ${conversion.to}; ${rewrites.length > 0 ? rewrites.join(", ") : "no node needed rewriting"}`,
      );
    }
    return { bundle, modified, statistics };
  },
});

/** The ONNX-format passes Lathe ships: `onnx/convert-opset`. */
export const builtinOnnxPlugin = definePlugin({
  meta: {
    name: "@lathe/core/onnx",
    version: LATHE_VERSION,
    apiVersion: PLUGIN_API_VERSION,
    description: "ONNX format passes: opset conversion.",
  },
  passes: [convertOpsetPass],
});
