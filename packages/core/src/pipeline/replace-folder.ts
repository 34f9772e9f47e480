/**
 * Folders Lathe writes whole (candidates and `selected/` in `output.dir`, reproducers, stored
 * references) carry a marker file, and Lathe replaces or removes only folders that have it. A
 * folder of the user's own that happens to be named like a step, or a symbolic link, is never
 * touched: the run stops instead, naming the folder and the fix.
 */
import { randomBytes } from "node:crypto";
import { lstat, mkdir, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { errors } from "../diagnostics.js";
import { LATHE_VERSION } from "../version.js";

/** The file in every folder Lathe writes whole, which says Lathe may replace it. */
export const FOLDER_MARKER = ".lathe-output";

// No time or run id inside: the same outputs stay byte-identical from run to run.
const MARKER_TEXT = `${JSON.stringify({ writtenBy: "lathe", version: LATHE_VERSION })}\n`;

/**
 * Fills a temp folder beside `to`, marks it, and renames it into place, so `to` is whole or
 * absent. Throws OUTPUT_FOLDER_NOT_LATHES, before anything is written, when `to` exists and is
 * not a folder Lathe wrote.
 */
export async function replaceFolder(
  to: string,
  fill: (temp: string) => Promise<void>,
): Promise<void> {
  await checkReplaceable(to);
  await mkdir(dirname(to), { recursive: true });
  const temp = join(
    dirname(to),
    `.${basename(to)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`,
  );
  try {
    await fill(temp);
    await mark(temp);
    await checkReplaceable(to);
    await rm(to, { recursive: true, force: true });
    await rename(temp, to);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

/** Removes a folder Lathe wrote earlier; absent is fine, anyone else's is an error. */
export async function removeWrittenFolder(path: string): Promise<void> {
  if ((await checkReplaceable(path)) === "absent") return;
  await rm(path, { recursive: true, force: true });
}

async function mark(folder: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  try {
    await writeFile(join(folder, FOLDER_MARKER), MARKER_TEXT, { flag: "wx" });
  } catch (error) {
    // Copied or linked in from another folder Lathe wrote: already marked.
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
}

/** Whether `path` is absent or a folder Lathe wrote; throws for anything else. */
async function checkReplaceable(path: string): Promise<"absent" | "written"> {
  let kind: string;
  try {
    const info = await lstat(path);
    kind = info.isSymbolicLink() ? "a symbolic link" : info.isDirectory() ? "folder" : "a file";
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "absent";
    throw error;
  }
  if (kind !== "folder") throw errors.outputFolderNotLathes(path, `it is ${kind}`);
  try {
    if ((await lstat(join(path, FOLDER_MARKER))).isFile()) return "written";
  } catch {
    // No marker: not Lathe's.
  }
  throw errors.outputFolderNotLathes(
    path,
    `it has no ${FOLDER_MARKER} file, so Lathe did not write it`,
  );
}
