import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { type ModelBundle, singleModelBundle } from "../bundle.js";
import { BUNDLE_MANIFEST, type BundleManifest, loadBundle } from "../bundle-file.js";
import { errors, LatheError } from "../diagnostics.js";
import type { Model } from "../ir/model.js";
import { modelToProto } from "../onnx/encode.js";
import { ModelProtoSchema } from "../onnx/generated/onnx_pb.js";
import { loadModel } from "../onnx/model-file.js";
import { encodeToSink } from "../onnx/proto-writer.js";
import type { PluginRegistry } from "../plugin/registry.js";
import { recipeLocation } from "../recipe/location.js";
import type { KeyPath } from "../recipe/node.js";
import { modelSourceScheme } from "../recipe/paths.js";
import type { Recipe } from "../recipe/types.js";
import { canonicalHash } from "./canonical-json.js";

/** The recipe's input: its digest (known before any pass runs) and a way to get a fresh copy. */
export interface InputArtifact {
  /** What the recipe names: a model source, or the absolute path of a file or bundle folder. */
  readonly reference: string;
  readonly digest: string;
  /**
   * For a file or bundle folder: the files it was read from (the digest covers exactly these),
   * and the folder their relative paths start from. Absent for model sources and `bundle:`.
   */
  readonly files?: InputFiles;
  /** A copy a pass may own: passes change bundles in place, and branches must not see that. */
  load(): Promise<ModelBundle>;
}

export interface InputFiles {
  readonly root: string;
  /** Absolute paths; for a single `.onnx` input, the model file comes first. */
  readonly paths: readonly string[];
  readonly kind: "file" | "folder";
}

interface Opened {
  readonly digest: string;
  readonly files?: InputFiles;
  /** The bundle that hashing loaded, handed to the first `load()` instead of loading it again. */
  readonly loaded?: ModelBundle;
  readonly reload: () => Promise<ModelBundle>;
}

/** Opens `model:` or `bundle:` of a recipe: a path (relative to the recipe) or a model source. */
export async function openRecipeInput(
  recipe: Recipe,
  registry: PluginRegistry,
  signal: AbortSignal,
): Promise<InputArtifact> {
  const baseDir = dirname(recipe.file);
  const context = { resolve: (path: string) => resolve(baseDir, path), signal };
  const openOne = async (text: string, key: KeyPath): Promise<Opened> => {
    const scheme = modelSourceScheme(text);
    if (scheme !== undefined) {
      const source = registry.modelSources.get(scheme);
      if (!source) {
        throw errors.modelSourceUnknown(recipeLocation(recipe, key), text, scheme, [
          ...registry.modelSources.keys(),
        ]);
      }
      // Hash what the source built, not its name: a plugin may change its models without a
      // version bump, and a stale cache hit would be silently wrong.
      const loaded = await source.definition.load(text, context);
      return {
        digest: bundleDigest(loaded),
        loaded,
        reload: () => source.definition.load(text, context),
      };
    }
    return openPath(resolve(baseDir, text), recipeLocation(recipe, key));
  };

  if (recipe.model !== undefined) {
    const opened = await openOne(recipe.model, ["model"]);
    return artifact(
      modelSourceScheme(recipe.model) !== undefined ? recipe.model : resolve(baseDir, recipe.model),
      opened,
    );
  }
  const entries = Object.entries(recipe.bundle ?? {});
  if (entries.length === 0) {
    throw new LatheError("RECIPE_NO_INPUT", "the recipe names no input model", {
      where: recipe.file,
      hint: "add model: <path or source>, or bundle: with named components",
    });
  }
  const parts = await Promise.all(
    entries.map(async ([name, text]) => ({ name, opened: await openOne(text, ["bundle", name]) })),
  );
  const single = async (name: string, bundle: ModelBundle): Promise<Model> => {
    const models = [...bundle.components.values()];
    if (models.length !== 1) {
      throw errors.invalidModel(
        recipeLocation(recipe, ["bundle", name]),
        `a bundle component must be one model, but this input has ${models.length} (${[...bundle.components.keys()].join(", ")})`,
        "name a single .onnx file or a one-component source for each component",
      );
    }
    return models[0]!;
  };
  const assemble = async (first: boolean): Promise<ModelBundle> => {
    const components = new Map<string, Model>();
    for (const { name, opened } of parts) {
      const bundle = first && opened.loaded ? opened.loaded : await opened.reload();
      components.set(name, await single(name, bundle));
    }
    return { components, metadata: {} };
  };
  const digest = canonicalHash({
    bundle: Object.fromEntries(parts.map((p) => [p.name, p.opened.digest])),
  });
  return artifact(`bundle(${entries.map(([n, t]) => `${n}=${t}`).join(", ")})`, {
    digest,
    loaded: await assemble(true),
    reload: () => assemble(false),
  });
}

function artifact(reference: string, opened: Opened): InputArtifact {
  let spare = opened.loaded;
  return {
    reference,
    digest: opened.digest,
    ...(opened.files ? { files: opened.files } : {}),
    load: async () => {
      const bundle = spare ?? (await opened.reload());
      spare = undefined;
      return bundle;
    },
  };
}

/** A .onnx file or a bundle folder; the digest covers its files and their external data. */
async function openPath(path: string, where: string): Promise<Opened> {
  let isFolder: boolean;
  try {
    isFolder = (await stat(path)).isDirectory();
  } catch {
    throw errors.fileNotFound(path);
  }
  if (isFolder) {
    const reload = () => loadBundle(path);
    const loaded = await reload();
    const files = [join(path, BUNDLE_MANIFEST), ...externalFiles(loaded)];
    // The manifest names each component's file (saveBundle writes `<name>.onnx`, others may not).
    const manifest = JSON.parse(
      await readFile(join(path, BUNDLE_MANIFEST), "utf8"),
    ) as BundleManifest;
    for (const file of Object.values(manifest.components)) files.push(join(path, file));
    return {
      digest: await filesDigest(path, files),
      files: { root: path, paths: [...new Set(files)], kind: "folder" },
      loaded,
      reload,
    };
  }
  const reload = async () => singleModelBundle(await loadModel(path));
  const loaded = await reload();
  if (loaded.components.size === 0) throw errors.invalidModel(where, "the model is empty");
  const files = [...new Set([path, ...externalFiles(loaded)])];
  return {
    digest: await filesDigest(dirname(path), files),
    files: { root: dirname(path), paths: files, kind: "file" },
    loaded,
    reload,
  };
}

/** The external-data files a bundle's initializers read (without reading them). */
function externalFiles(bundle: ModelBundle): string[] {
  const files = new Set<string>();
  for (const model of bundle.components.values()) {
    const graphs = [model.graph];
    for (const node of model.allNodes()) graphs.push(...node.subgraphs());
    for (const graph of graphs) {
      for (const value of graph.initializers.values()) {
        const external =
          value.constValue && "external" in value.constValue
            ? value.constValue.external
            : undefined;
        if (external) files.add(external.path);
      }
    }
  }
  return [...files];
}

/** Hashes files by their path relative to `root`, so a moved model folder keeps its digest. */
async function filesDigest(root: string, files: readonly string[]): Promise<string> {
  const digests: Record<string, string> = {};
  for (const file of new Set(files)) digests[relative(root, file)] = await sha256File(file);
  return canonicalHash(digests);
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** sha256 over every component's canonical encoding (streamed, never held whole) and the metadata. */
function bundleDigest(bundle: ModelBundle): string {
  const hash = createHash("sha256");
  for (const name of [...bundle.components.keys()].sort()) {
    hash.update(`component:${name}\n`);
    encodeToSink(ModelProtoSchema, modelToProto(bundle.components.get(name)!), {
      write: (bytes) => hash.update(bytes),
    });
  }
  hash.update(canonicalHash(bundle.metadata));
  return hash.digest("hex");
}
