import { sizeOptionsSchema } from "../generated/options.js";
import { defineMetric } from "../plugin/define.js";
import { artifactComponents, componentSize } from "./artifact.js";

/** Bytes on disk of every component, its `.onnx` file plus the external data it points at. */
export async function artifactSize(
  path: string,
): Promise<{ bytes: number; onnxBytes: number; externalBytes: number }> {
  let onnxBytes = 0;
  let externalBytes = 0;
  for (const file of (await artifactComponents(path)).values()) {
    const size = await componentSize(file);
    onnxBytes += size.onnx;
    externalBytes += size.external;
  }
  return { bytes: onnxBytes + externalBytes, onnxBytes, externalBytes };
}

/** core/size takes no options. */
export type SizeOptions = Record<string, never>;

export const sizeMetric = defineMetric<SizeOptions>({
  id: "core/size",
  summary: "Bytes on disk, external data included.",
  options: sizeOptionsSchema,
  values: { bytes: "lower", onnxBytes: "lower", externalBytes: "lower" },
  deterministic: true,
  async measure(_candidate, context) {
    return artifactSize(context.candidatePath);
  },
});
