import { constants } from "node:fs";
import { chmod, copyFile, link, mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";

/** How the files of a folder reached their new place. */
export interface LinkCount {
  /** Hard links: no bytes written. */
  linked: number;
  /** Reflinks where the file system has them, else copies (another disk, no hard links). */
  copied: number;
}

/**
 * Fills `to` with the files under `from` (sub-folders included) without copying their bytes
 * where it can: a hard link, else a reflink, else a copy. Linked files share their content with
 * `from`, so they are made read-only: a tool that rewrote one in place would change the other.
 * `keep` leaves out files by name.
 */
export async function linkFiles(
  from: string,
  to: string,
  keep: (name: string) => boolean = () => true,
): Promise<LinkCount> {
  const count: LinkCount = { linked: 0, copied: 0 };
  await mkdir(to, { recursive: true });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    if (!keep(entry.name)) continue;
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) {
      const inner = await linkFiles(source, target, keep);
      count.linked += inner.linked;
      count.copied += inner.copied;
    } else if (await linkOrCopy(source, target)) {
      count.linked++;
    } else {
      count.copied++;
    }
  }
  return count;
}

/** True for a hard link; false when the file was reflinked or copied instead. */
export async function linkOrCopy(source: string, target: string): Promise<boolean> {
  try {
    await link(source, target);
    await chmod(target, 0o444);
    return true;
  } catch (error) {
    // Another file system (EXDEV), no hard links there (EPERM, ENOTSUP), too many links (EMLINK).
    if ((error as NodeJS.ErrnoException).code === "EEXIST") throw error;
    // FICLONE asks for a reflink and falls back to copying the bytes by itself.
    await copyFile(source, target, constants.COPYFILE_FICLONE);
    return false;
  }
}
