/** Measuring stored models outside a recipe run (`lathe bench`, `lathe compare`). */
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { singleModelBundle } from "../bundle.js";
import { loadBundle } from "../bundle-file.js";
import { errors } from "../diagnostics.js";
import { loadModel } from "../onnx/model-file.js";
import type { Measurable } from "./evaluation.js";

/** A bundle folder or an `.onnx` file as something the evaluation can measure. */
export async function measurableFile(path: string, id = path): Promise<Measurable> {
  const absolute = resolve(path);
  let folder: boolean;
  try {
    folder = (await stat(absolute)).isDirectory();
  } catch {
    throw errors.fileNotFound(absolute);
  }
  return {
    id,
    path: absolute,
    // Only the evaluation cache reads the digest, and standalone measurements are not cached.
    digest: absolute,
    load: async () =>
      folder ? loadBundle(absolute) : singleModelBundle(await loadModel(absolute)),
  };
}
