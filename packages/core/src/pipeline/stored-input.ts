/**
 * The recipe's input as files: what evaluation measures as the reference and what a recipe
 * without enabled steps writes as its baseline. A file or folder input is used where it is; a
 * model source or an assembled `bundle:` is saved once, in the cache under its digest.
 */
import { mkdir, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import { BUNDLE_MANIFEST, type BundleManifest, saveBundle } from "../bundle-file.js";
import type { InputArtifact } from "./input.js";
import { type LinkCount, linkFiles, linkOrCopy } from "./link-files.js";
import { replaceFolder } from "./replace-folder.js";
import type { RunPlan } from "./run-plan.js";

/** A path the runtime can load (a `.onnx` file or a bundle folder) holding the input. */
export async function storedInput(input: InputArtifact, plan: RunPlan): Promise<string> {
  if (input.files) return input.files.kind === "file" ? input.files.paths[0]! : input.files.root;
  const folder = join(plan.cache.dir, "references", input.digest);
  try {
    await stat(join(folder, BUNDLE_MANIFEST));
    return folder;
  } catch {
    // Not saved yet.
  }
  const bundle = await input.load();
  await replaceFolder(folder, async (temp) => {
    await saveBundle(bundle, temp, plan.saveOptions);
  });
  return folder;
}

/** Fills `folder` with the input as a bundle folder, linking its files instead of saving it again. */
export async function linkInputInto(
  input: InputArtifact,
  plan: RunPlan,
  folder: string,
): Promise<LinkCount> {
  const files = input.files;
  if (files?.kind !== "file") return linkFiles(await storedInput(input, plan), folder);
  // One .onnx file (and its external data, by the relative paths the model names them with):
  // the model file becomes the `model` component.
  const count: LinkCount = { linked: 0, copied: 0 };
  const [model, ...data] = files.paths;
  await mkdir(folder, { recursive: true });
  for (const path of data) {
    const target = join(folder, relative(files.root, path));
    await mkdir(dirname(target), { recursive: true });
    if (await linkOrCopy(path, target)) count.linked++;
    else count.copied++;
  }
  const name = data.some((p) => basename(p) === "model.onnx") ? basename(model!) : "model.onnx";
  if (await linkOrCopy(model!, join(folder, name))) count.linked++;
  else count.copied++;
  const manifest: BundleManifest = { schemaVersion: 1, components: { model: name }, metadata: {} };
  await writeFile(join(folder, BUNDLE_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  return count;
}
