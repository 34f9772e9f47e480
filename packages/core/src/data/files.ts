/**
 * The files a data set reads: a folder (every file under it with one of the source's
 * extensions), a glob, a single file, or a list of them, always in one sorted order, so that
 * record numbers (and the splits cut from them) do not depend on the file system's listing.
 */
import type { Dirent } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import { isDynamicPattern, glob as tinyGlob } from "tinyglobby";
import { errors } from "../diagnostics.js";

/** A data source's `path` option: a folder, a glob or a file, or a list of them. */
export type DataPaths = string | readonly string[];

export function pathList(value: DataPaths): readonly string[] {
  return typeof value === "string" ? [value] : value;
}

/**
 * The files `paths` name, resolved and sorted, with one of `extensions` (lower case, with the
 * dot). A folder or a glob that names none, or a missing path, is an error saying which.
 */
export async function listDataFiles(
  paths: DataPaths,
  resolve: (path: string) => string,
  extensions: readonly string[],
  kind: string,
): Promise<string[]> {
  const wanted = (file: string) => extensions.includes(extname(file).toLowerCase());
  const named = extensions.join(", ");
  const files = new Set<string>();
  for (const path of pathList(paths)) {
    if (isDynamicPattern(path)) {
      const cwd = resolve(".");
      const found = (await tinyGlob(path, { cwd, absolute: true, onlyFiles: true })).filter(wanted);
      if (found.length === 0)
        throw errors.dataOptionsInvalid(
          resolve(path),
          `no ${kind} files (${named}) match the pattern`,
          "check the pattern: it is resolved from the recipe's folder (** matches subfolders)",
        );
      for (const file of found) files.add(file);
      continue;
    }
    const absolute = resolve(path);
    const info = await stat(absolute).catch(() => undefined);
    if (!info)
      throw errors.dataOptionsInvalid(
        absolute,
        `no such ${kind} file or folder`,
        "check the path: it is resolved from the recipe's folder",
      );
    if (!info.isDirectory()) {
      files.add(absolute);
      continue;
    }
    const entries: Dirent[] = await readdir(absolute, { withFileTypes: true, recursive: true });
    const found = entries
      .filter((e) => e.isFile() && wanted(e.name))
      .map((e) => join(e.parentPath, e.name));
    if (found.length === 0)
      throw errors.dataOptionsInvalid(
        absolute,
        `the folder has no ${kind} files (${named}), in it or in its subfolders`,
        `point path at a folder of ${named} files, or a glob such as "${path}/**/*${extensions[0]}"`,
      );
    for (const file of found) files.add(file);
  }
  return [...files].sort();
}

/** The paths a data set's cache key covers: folders and files as named, globs by their matches. */
export async function dataKeyPaths(
  paths: DataPaths,
  resolve: (path: string) => string,
  extensions: readonly string[],
): Promise<string[]> {
  const out: string[] = [];
  for (const path of pathList(paths)) {
    if (!isDynamicPattern(path)) {
      out.push(resolve(path));
      continue;
    }
    const found = await tinyGlob(path, { cwd: resolve("."), absolute: true, onlyFiles: true });
    out.push(...found.filter((f) => extensions.includes(extname(f).toLowerCase())));
  }
  return out.sort();
}

/** A file's bytes; a file that vanished since it was listed is named. */
export async function readDataFile(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw errors.fileNotFound(file);
    throw error;
  }
}
