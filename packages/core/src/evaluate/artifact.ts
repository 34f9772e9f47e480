/**
 * What the metrics measure: a stored model, either a bundle folder (`bundle.json` + components)
 * or a single `.onnx` file. Sizes count external data, because that is what ships.
 */
import { readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { BUNDLE_MANIFEST, type BundleManifest } from "../bundle-file.js";
import { errors } from "../diagnostics.js";
import { Graph } from "../ir/graph.js";
import { Tensor } from "../ir/tensor.js";
import { loadModel } from "../onnx/model-file.js";

/** Component name → absolute path of its `.onnx` file. A lone file is the component `model`. */
export async function artifactComponents(path: string): Promise<Map<string, string>> {
  const absolute = resolve(path);
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(absolute);
  } catch {
    throw errors.fileNotFound(absolute);
  }
  if (!info.isDirectory()) return new Map([["model", absolute]]);
  const manifestPath = join(absolute, BUNDLE_MANIFEST);
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath, "utf8")) as BundleManifest;
  } catch {
    throw errors.fileNotFound(manifestPath);
  }
  return new Map(
    Object.entries(manifest.components).map(([name, file]) => [name, join(absolute, file)]),
  );
}

export interface ComponentSize {
  readonly onnx: number;
  /** Bytes in external data files (each file counted once, however many tensors it holds). */
  readonly external: number;
}

/** Bytes on disk of one `.onnx` file and the external data files its tensors point at. */
export async function componentSize(file: string): Promise<ComponentSize> {
  const model = await loadModel(file);
  const files = new Set<string>();
  collectExternal(model.graph, files);
  let external = 0;
  for (const path of files) external += (await stat(path)).size;
  return { onnx: (await stat(file)).size, external };
}

function collectExternal(graph: Graph, files: Set<string>): void {
  for (const value of graph.initializers.values()) {
    const tensor = value.constValue;
    if (tensor instanceof Tensor && tensor.external) files.add(tensor.external.path);
  }
  // Constant nodes and subgraphs (If/Loop/Scan bodies) may hold external tensors too.
  for (const node of graph) {
    for (const attribute of node.attributes.values()) {
      const values = "value" in attribute ? [attribute.value].flat() : [];
      for (const v of values) {
        if (v instanceof Tensor && v.external) files.add(v.external.path);
        if (v instanceof Graph) collectExternal(v, files);
      }
    }
  }
}
