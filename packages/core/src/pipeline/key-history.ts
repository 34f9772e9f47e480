/**
 * The last key computed for each code-free key (cache-key.ts), kept in the cache folder, so a
 * step that misses the cache can say why: the code of a plugin, or of the engine, changed since
 * the result that is there. Only an explanation: a missing or unreadable record changes nothing.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** Plugin name (or `@lathe/core`) → the digest of its code, null for an installed release. */
export type CodeDigestMap = Readonly<Record<string, string | null>>;

interface KeyRecord {
  readonly key: string;
  readonly code: CodeDigestMap;
}

const FOLDER = "keys";

/**
 * The names whose code differs from when `codeFreeKey` was last computed, when that gave a key
 * other than `key`; undefined when there is no such record or nothing in the code changed.
 */
export async function codeChangedSince(
  cacheDir: string,
  codeFreeKey: string,
  key: string,
  code: CodeDigestMap,
): Promise<string[] | undefined> {
  let record: KeyRecord;
  try {
    record = JSON.parse(await readFile(join(cacheDir, FOLDER, `${codeFreeKey}.json`), "utf8"));
  } catch {
    return undefined;
  }
  if (record.key === key) return undefined;
  const names = new Set([...Object.keys(record.code ?? {}), ...Object.keys(code)]);
  const changed = [...names].filter((n) => (record.code?.[n] ?? null) !== (code[n] ?? null));
  return changed.length > 0 ? changed.sort() : undefined;
}

export async function rememberKey(
  cacheDir: string,
  codeFreeKey: string,
  key: string,
  code: CodeDigestMap,
): Promise<void> {
  const folder = join(cacheDir, FOLDER);
  await mkdir(folder, { recursive: true });
  const file = join(folder, `${codeFreeKey}.json`);
  const temp = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await writeFile(temp, `${JSON.stringify({ key, code } satisfies KeyRecord)}\n`);
    await rename(temp, file);
  } finally {
    await rm(temp, { force: true });
  }
}
