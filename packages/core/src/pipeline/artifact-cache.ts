import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ModelBundle } from "../bundle.js";
import { BUNDLE_MANIFEST, rebaseExternalData, saveBundle } from "../bundle-file.js";
import type { SaveOptions } from "../onnx/model-file.js";
import type { PassStatistics } from "../plugin/types.js";

/** The file beside a cached bundle that says how it was made. */
export const ARTIFACT_META = "lathe-artifact.json";
const TEMP_DIR = ".tmp";

export interface ArtifactMeta {
  readonly schemaVersion: 1;
  readonly key: string;
  readonly step: string;
  readonly pass: string;
  readonly plugin: { readonly name: string; readonly version: string };
  readonly options: Readonly<Record<string, unknown>>;
  readonly inputDigest: string;
  readonly modified: boolean;
  readonly statistics: PassStatistics;
  readonly durationMs: number;
  readonly createdAt: string;
}

/**
 * Step outputs by cache key, one bundle folder each. An entry is built in `.tmp/` and renamed
 * into place whole, so a folder named after a key is always complete: an interrupted or failed
 * step leaves at most a temp folder, which the next run removes once its process is gone.
 */
export class ArtifactCache {
  constructor(readonly dir: string) {}

  path(key: string): string {
    return join(this.dir, key);
  }

  /** The entry's metadata, or undefined when there is no complete entry for `key`. */
  async lookup(key: string): Promise<ArtifactMeta | undefined> {
    try {
      await readFile(join(this.path(key), BUNDLE_MANIFEST));
      return JSON.parse(
        await readFile(join(this.path(key), ARTIFACT_META), "utf8"),
      ) as ArtifactMeta;
    } catch {
      return undefined;
    }
  }

  /**
   * Saves a bundle under `key`; `beforeCommit` may throw (an abort) to drop it instead. The
   * bundle stays usable afterwards: tensors saved as external data read from the entry.
   */
  async store(
    bundle: ModelBundle,
    meta: ArtifactMeta,
    saveOptions: SaveOptions,
    beforeCommit: () => void,
  ): Promise<string> {
    const temp = await this.tempPath(`entry-${meta.key.slice(0, 12)}`);
    try {
      await saveBundle(bundle, temp, saveOptions);
      await writeFile(join(temp, ARTIFACT_META), `${JSON.stringify(meta, null, 2)}\n`);
      beforeCommit();
      await rm(this.path(meta.key), { recursive: true, force: true });
      await rename(temp, this.path(meta.key));
      rebaseExternalData(bundle, temp, this.path(meta.key));
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
    return this.path(meta.key);
  }

  /** A fresh folder for a pass's temporary files (the caller removes it). */
  async scratch(step: string): Promise<string> {
    const dir = await this.tempPath(`scratch-${step.replace(/[^\w.-]/g, "_")}`);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** Removes temp folders left by runs whose process no longer exists (killed, crashed). */
  async removeAbandoned(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(join(this.dir, TEMP_DIR));
    } catch {
      return;
    }
    for (const name of names) {
      const pid = Number(name.split("-")[0]);
      if (Number.isInteger(pid) && !isAlive(pid)) {
        await rm(join(this.dir, TEMP_DIR, name), { recursive: true, force: true });
      }
    }
  }

  /** Temp names start with the pid, so `removeAbandoned` can tell whose they are. */
  private async tempPath(label: string): Promise<string> {
    await mkdir(join(this.dir, TEMP_DIR), { recursive: true });
    return join(this.dir, TEMP_DIR, `${process.pid}-${label}-${randomBytes(4).toString("hex")}`);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
