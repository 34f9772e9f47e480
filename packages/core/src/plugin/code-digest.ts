/**
 * A digest of a plugin's code, for the cache keys of what it computes. A plugin installed from a
 * registry is identified by its name and version (a published version never changes), but one
 * loaded by path or from a workspace changes with every edit, and a key holding only its version
 * would hand back results of the old code. Such a plugin is keyed by the contents of its entry
 * module and every module it imports that is not installed (relative imports, and workspace
 * packages reached through links), read from disk as they are now.
 */
import { createHash } from "node:crypto";
import { readFile, realpath, stat } from "node:fs/promises";
import { createRequire, isBuiltin } from "node:module";
import { dirname, extname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The digest of the code reachable from `entry` (a module file), or undefined when the entry is
 * an installed package (its real path is inside a node_modules folder). Computed once per entry
 * and process: a process runs the code it loaded first (Node caches modules), so that is the
 * code its results come from, whatever the files hold later.
 */
export function codeDigest(entry: string): Promise<string | undefined> {
  let digest = digests.get(entry);
  if (!digest) {
    digest = shared.of(entry);
    digests.set(entry, digest);
  }
  return digest;
}

/** The digest of this copy of @lathe/core's code (the engine and its built-in plugins). */
export async function engineCodeDigest(): Promise<string | undefined> {
  const entry = await resolveImport("../index.js", fileURLToPath(import.meta.url));
  return entry === undefined ? undefined : codeDigest(entry);
}

const digests = new Map<string, Promise<string | undefined>>();

/** Reads each module once, so modules shared by several plugins (core) are hashed once. Exported for tests: an instance reads the files anew. */
export class CodeDigests {
  private readonly modules = new Map<string, Promise<ModuleDigest>>();

  async of(entry: string): Promise<string | undefined> {
    const start = await realFile(entry);
    if (start === undefined || isInstalled(start)) return undefined;
    const root = await packageRoot(start);
    const seen = new Map<string, string>();
    const queue = [start];
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      const module = await this.module(file);
      seen.set(file, module.sha256);
      for (const next of module.imports) if (!seen.has(next)) queue.push(next);
    }
    const hash = createHash("sha256");
    const names = [...seen.keys()].map((file) => [relative(root, file).split(sep).join("/"), file]);
    for (const [name, file] of names.sort(([a], [b]) => (a! < b! ? -1 : 1))) {
      hash.update(`${name}\0${seen.get(file!)}\n`);
    }
    return hash.digest("hex");
  }

  private module(file: string): Promise<ModuleDigest> {
    let entry = this.modules.get(file);
    if (!entry) {
      entry = readModule(file);
      this.modules.set(file, entry);
    }
    return entry;
  }
}

const shared = new CodeDigests();

interface ModuleDigest {
  readonly sha256: string;
  /** The real paths of the modules it imports that are part of its code (not installed). */
  readonly imports: readonly string[];
}

// `import … from "x"`, `export … from "x"`, `import "x"`, `import("x")`, `require("x")`. A
// module imported by a computed specifier is not found, and its edits do not change the digest.
const SPECIFIERS = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["']([^"'\n]+)["']/g;

async function readModule(file: string): Promise<ModuleDigest> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    return { sha256: "unreadable", imports: [] };
  }
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  if (!/\.[cm]?[jt]sx?$/.test(file)) return { sha256, imports: [] };
  const imports = new Set<string>();
  for (const match of bytes.toString("utf8").matchAll(SPECIFIERS)) {
    const found = await resolveImport(match[1]!, file);
    if (found !== undefined && !isInstalled(found)) imports.add(found);
  }
  return { sha256, imports: [...imports] };
}

/** Where `specifier`, imported by `from`, is on disk (real path), if it can be found. */
async function resolveImport(specifier: string, from: string): Promise<string | undefined> {
  if (isBuiltin(specifier)) return undefined;
  if (specifier.startsWith(".") || specifier.startsWith("/")) {
    const base = resolve(dirname(from), specifier);
    // Compiled TypeScript imports `./x.js` for the source file `./x.ts`.
    const stem = base.slice(0, base.length - extname(base).length);
    for (const candidate of [
      base,
      `${stem}.ts`,
      `${stem}.tsx`,
      `${stem}.mts`,
      `${base}.js`,
      `${base}.ts`,
      join(base, "index.js"),
      join(base, "index.ts"),
    ]) {
      const real = await realFile(candidate);
      if (real !== undefined) return real;
    }
    return undefined;
  }
  try {
    return await realFile(createRequire(from).resolve(specifier));
  } catch {
    return undefined;
  }
}

async function realFile(path: string): Promise<string | undefined> {
  try {
    const real = await realpath(path);
    return (await stat(real)).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}

function isInstalled(path: string): boolean {
  return path.split(sep).includes("node_modules");
}

/** The nearest folder holding a package.json: module names are relative to it. */
async function packageRoot(file: string): Promise<string> {
  let dir = dirname(file);
  for (;;) {
    try {
      await stat(join(dir, "package.json"));
      return dir;
    } catch {
      const up = dirname(dir);
      if (up === dir) return dirname(file);
      dir = up;
    }
  }
}
