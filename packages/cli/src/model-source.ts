import { resolve } from "node:path";
import { LatheError, type ModelBundle } from "@lathe/core";
import { builtinPlugins } from "./builtin-plugins.js";

/** The scheme of a model source (`zoo` in `zoo:gpt2?size=tiny`), or undefined for a path. */
export function modelSourceScheme(text: string): string | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):(?!\/\/)/i.exec(text)?.[1];
  // One letter is a Windows drive, not a scheme.
  return scheme !== undefined && scheme.length > 1 ? scheme : undefined;
}

/** Loads a model source of a built-in plugin (`zoo:unet?size=tiny`) as a bundle. */
export async function loadModelSource(text: string, scheme: string): Promise<ModelBundle> {
  const sources = builtinPlugins.flatMap((p) => p.modelSources ?? []);
  const source = sources.find((s) => s.scheme === scheme);
  if (!source) {
    throw new LatheError(
      "MODEL_SOURCE_UNKNOWN",
      `no built-in plugin provides model source "${scheme}:"`,
      {
        where: text,
        hint: `known: ${sources.map((s) => `${s.scheme}:`).join(", ")}; or pass an .onnx file`,
      },
    );
  }
  return source.load(text, { resolve: (p) => resolve(p), signal: new AbortController().signal });
}
