import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import type { ModelBundle } from "./bundle.js";
import { errors, LatheError } from "./diagnostics.js";
import type { Model } from "./ir/model.js";
import { Tensor } from "./ir/tensor.js";
import { loadModel, type SaveOptions, type SaveResult, saveModel } from "./onnx/model-file.js";

/** The manifest of a bundle folder: which file holds each component, and the metadata. */
export interface BundleManifest {
  schemaVersion: 1;
  components: Record<string, string>;
  metadata: Record<string, unknown>;
}

export const BUNDLE_MANIFEST = "bundle.json";

/**
 * Saves a bundle as a folder: `<component>.onnx` per component (with external data as the
 * options say) and `bundle.json`. The manifest is written last, so a folder with a manifest is
 * complete.
 */
export async function saveBundle(
  bundle: ModelBundle,
  dir: string,
  options: SaveOptions = {},
): Promise<SaveResult[]> {
  const folder = resolve(dir);
  await mkdir(folder, { recursive: true });
  const results: SaveResult[] = [];
  const components: Record<string, string> = {};
  for (const [name, model] of bundle.components) {
    const file = `${name}.onnx`;
    results.push(await saveModel(model, join(folder, file), options));
    components[name] = file;
  }
  const manifest: BundleManifest = {
    schemaVersion: 1,
    components,
    metadata: { ...bundle.metadata },
  };
  const temp = join(folder, `${BUNDLE_MANIFEST}.tmp-${process.pid}`);
  await writeFile(temp, `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(temp, join(folder, BUNDLE_MANIFEST));
  return results;
}

/** Loads a bundle folder written by `saveBundle`. */
export async function loadBundle(dir: string): Promise<ModelBundle> {
  const folder = resolve(dir);
  const manifestPath = join(folder, BUNDLE_MANIFEST);
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath, "utf8")) as BundleManifest;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw errors.fileNotFound(manifestPath);
    throw errors.invalidModel(
      manifestPath,
      `the bundle manifest is not valid JSON: ${(error as Error).message}`,
    );
  }
  if (manifest.schemaVersion !== 1 || typeof manifest.components !== "object") {
    throw errors.invalidModel(
      manifestPath,
      "not a Lathe bundle manifest (schemaVersion 1 with components)",
    );
  }
  const components = new Map<string, Model>();
  for (const [name, file] of Object.entries(manifest.components)) {
    if (file.includes("/") || file.includes("\\")) {
      throw new LatheError(
        "BUNDLE_INVALID",
        `component "${name}" points outside the bundle folder`,
        {
          where: manifestPath,
        },
      );
    }
    components.set(name, await loadModel(join(folder, file)));
  }
  return { components, metadata: manifest.metadata ?? {} };
}

/**
 * After a saved bundle's folder was renamed from `from` to `to`: its external tensors read from
 * the files under `to`, so the bundle stays usable in memory (the engine hands it to the next step).
 */
export function rebaseExternalData(bundle: ModelBundle, from: string, to: string): void {
  const prefix = resolve(from) + sep;
  for (const model of bundle.components.values()) {
    const graphs = [model.graph];
    for (const node of model.allNodes()) graphs.push(...node.subgraphs());
    for (const graph of graphs) {
      for (const value of graph.initializers.values()) {
        const tensor = value.constValue;
        const external = tensor instanceof Tensor ? tensor.external : undefined;
        if (tensor instanceof Tensor && external?.path.startsWith(prefix)) {
          tensor._relocate({ ...external, path: join(to, relative(from, external.path)) });
        }
      }
    }
  }
}
