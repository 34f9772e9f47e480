import { randomBytes } from "node:crypto";
import { mkdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Fills a temp folder beside `to` and renames it into place, so `to` is whole or absent. */
export async function replaceFolder(
  to: string,
  fill: (temp: string) => Promise<void>,
): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  const temp = join(
    dirname(to),
    `.${basename(to)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`,
  );
  try {
    await fill(temp);
    await rm(to, { recursive: true, force: true });
    await rename(temp, to);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}
