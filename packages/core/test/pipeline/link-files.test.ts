import { constants } from "node:fs";
import { access, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, describe, expect, it, vi } from "vitest";

// Linking fails for files whose name says so, as it does across file systems.
vi.mock("node:fs/promises", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs/promises")>();
  return {
    ...fs,
    link: async (from: string, to: string) => {
      if (from.endsWith(".elsewhere")) {
        throw Object.assign(new Error("cross-device link"), { code: "EXDEV" });
      }
      return fs.link(from, to);
    },
  };
});

const { linkFiles } = await import("../../src/pipeline/link-files.js");

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-link-");

describe("linkFiles", () => {
  it("hard-links every file, sub-folders included, read-only, leaving out what `keep` rejects", async () => {
    const from = join(root, "from");
    await mkdir(join(from, "data"), { recursive: true });
    await writeFile(join(from, "model.onnx"), "weights");
    await writeFile(join(from, "data", "w.bin"), "external");
    await writeFile(join(from, "skip.json"), "{}");
    const to = join(root, "to");
    const count = await linkFiles(from, to, (name) => name !== "skip.json");
    expect(count).toEqual({ linked: 2, copied: 0 });
    for (const file of ["model.onnx", join("data", "w.bin")]) {
      expect((await stat(join(to, file))).ino).toBe((await stat(join(from, file))).ino);
      expect((await stat(join(to, file))).mode & 0o222).toBe(0);
    }
    await expect(access(join(to, "skip.json"))).rejects.toThrow();
  });

  it("copies (or reflinks) a file it cannot link", async () => {
    const from = join(root, "far");
    await mkdir(from, { recursive: true });
    await writeFile(join(from, "model.elsewhere"), "bytes");
    const to = join(root, "near");
    expect(await linkFiles(from, to)).toEqual({ linked: 0, copied: 1 });
    expect(await readFile(join(to, "model.elsewhere"), "utf8")).toBe("bytes");
    expect((await stat(join(to, "model.elsewhere"))).ino).not.toBe(
      (await stat(join(from, "model.elsewhere"))).ino,
    );
    // A copy shares nothing, so it stays writable.
    await access(join(to, "model.elsewhere"), constants.W_OK);
  });
});
