import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  type DataRecord,
  DataType,
  type ImagesOptions,
  imagesSource,
  isLatheError,
  type LatheError,
} from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import jpeg from "jpeg-js";
import pngjs from "pngjs";
import { afterAll, describe, expect, test } from "vitest";

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-images-");

/** A PNG of `width × height` RGB pixels (alpha 255), written with pngjs. */
function png(width: number, height: number, rgb: number[][]): Buffer {
  const image = new pngjs.PNG({ width, height });
  rgb.forEach(([r, g, b], p) => {
    image.data.set([r!, g!, b!, 255], p * 4);
  });
  return pngjs.PNG.sync.write(image);
}

function folder(name: string, files: Record<string, Buffer | string>): string {
  const dir = join(root, name);
  for (const [file, bytes] of Object.entries(files)) {
    mkdirSync(join(dir, file, ".."), { recursive: true });
    writeFileSync(join(dir, file), bytes);
  }
  return dir;
}

async function read(dir: string, options: Partial<ImagesOptions>): Promise<DataRecord[]> {
  const set = imagesSource.open({ path: ".", input: "x", ...options } as ImagesOptions, {
    resolve: (p) => resolve(dir, p),
  });
  const out: DataRecord[] = [];
  for await (const record of set.records()) out.push(record);
  return out;
}

async function failure(dir: string, options: Partial<ImagesOptions>): Promise<LatheError> {
  const error = await read(dir, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isLatheError(error)) throw new Error(`expected a LatheError, got ${String(error)}`);
  return error;
}

const A = [10, 20, 30];
const B = [50, 60, 70];
const C = [90, 100, 110];
const D = [130, 140, 150];

/** A python with torch (LATHE_PYTHON, python3, Debian's), for the reference resize. */
const torchPython = (
  process.env.LATHE_PYTHON ? [process.env.LATHE_PYTHON] : ["python3", "/usr/bin/python3"]
).find((python) => spawnSync(python, ["-c", "import torch"], { stdio: "ignore" }).status === 0);
const NO_TORCH =
  "PyTorch is not installed (apt-get install python3-torch, or LATHE_PYTHON): the resize is not compared with torch's";

describe("images", () => {
  test("decodes a PNG; enlarging is half-pixel bilinear; scale, mean/std, NCHW", async () => {
    const dir = folder("up", { "a.png": png(2, 2, [A, B, C, D]) });
    const [record] = await read(dir, {
      resize: { height: 4, width: 4 },
      mean: [0.5],
      std: [0.25],
    });
    const x = record!.x!;
    expect(x.dataType).toBe(DataType.FLOAT);
    expect(x.dims).toEqual([1, 3, 4, 4]);
    const values = x.toArray() as Float32Array;
    // Output (1, 1) sits at source (0.75, 0.75): weights 0.75 / 0.25 along each axis.
    const at = (c: number) =>
      0.75 * 0.75 * A[c]! + 0.75 * 0.25 * B[c]! + 0.25 * 0.75 * C[c]! + 0.25 * 0.25 * D[c]!;
    for (let c = 0; c < 3; c++) {
      expect(values[c * 16 + 1 * 4 + 1]).toBeCloseTo((at(c) / 255 - 0.5) / 0.25, 5);
      // The corner is the corner pixel: edges clamp.
      expect(values[c * 16]).toBeCloseTo((A[c]! / 255 - 0.5) / 0.25, 5);
    }
  });

  test("shrinking averages with a widened triangle (Pillow's BILINEAR), per-channel mean/std", async () => {
    const row = [0, 40, 80, 120].map((v) => [v, v, v]);
    const dir = folder("down", { "a.png": png(4, 1, row) });
    const [record] = await read(dir, {
      resize: { height: 1, width: 2 },
      scale: 1,
      mean: [0, 10, 20],
      std: [1, 2, 4],
    });
    const values = record!.x!.toArray() as Float32Array;
    // Output 0 is centred on source 1.0 with support 2: weights 0.75, 0.75, 0.25 (normalized).
    const first = (0.75 * 0 + 0.75 * 40 + 0.25 * 80) / 1.75;
    const second = (0.25 * 40 + 0.75 * 80 + 0.75 * 120) / 1.75;
    expect(values[0]).toBeCloseTo(first, 4);
    expect(values[1]).toBeCloseTo(second, 4);
    expect(values[2]).toBeCloseTo((first - 10) / 2, 4);
    expect(values[5]).toBeCloseTo((second - 20) / 4, 4);
  });

  test.skipIf(!torchPython)(
    `resize equals torch's interpolate(bilinear, antialias=True) when shrinking and enlarging${torchPython ? "" : ` (skipped: ${NO_TORCH})`}`,
    async () => {
      const dir = mkdtempSync(join(root, "torch-"));
      const sizes = [
        [3, 4],
        [9, 11],
        [2, 9],
      ] as const;
      const script = `
import json, sys, torch
torch.manual_seed(0)
x = (torch.rand(1, 3, 5, 7) * 255).round()
out = {"x": x.flatten().tolist()}
for h, w in ${JSON.stringify(sizes)}:
    y = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    out[f"{h}x{w}"] = y.flatten().tolist()
json.dump(out, open(sys.argv[1], "w"))
`;
      const result = spawnSync(torchPython!, ["-c", script, join(dir, "ref.json")], {
        encoding: "utf8",
      });
      expect(result.status, result.stderr).toBe(0);
      const ref = JSON.parse(readFileSync(join(dir, "ref.json"), "utf8")) as Record<
        string,
        number[]
      >;
      const image = new pngjs.PNG({ width: 7, height: 5 });
      for (let p = 0; p < 35; p++)
        image.data.set([ref.x![p]!, ref.x![35 + p]!, ref.x![70 + p]!, 255], p * 4);
      writeFileSync(join(dir, "a.png"), pngjs.PNG.sync.write(image));
      for (const [height, width] of sizes) {
        const [record] = await read(dir, { path: "a.png", scale: 1, resize: { height, width } });
        const got = record!.x!.toArray() as Float32Array;
        const want = ref[`${height}x${width}`]!;
        let worst = 0;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
        expect(worst, `${height}×${width}`).toBeLessThan(1e-3);
      }
    },
  );

  test("shorter-side resize keeps the aspect ratio, then a center crop; BGR and NHWC", async () => {
    // 2 rows × 4 columns: column k holds value 10·k in red, 0 in green, 255 in blue.
    const pixels = [0, 1, 2, 3, 0, 1, 2, 3].map((k) => [10 * k, 0, 255]);
    const dir = folder("crop", { "a.png": png(4, 2, pixels) });
    const [record] = await read(dir, {
      resize: 2,
      crop: { height: 2, width: 2 },
      channels: "bgr",
      layout: "NHWC",
      scale: 1,
    });
    const x = record!.x!;
    expect(x.dims).toEqual([1, 2, 2, 3]);
    const values = x.toArray() as Float32Array;
    // Shorter side 2 is already 2: no resize; the crop starts at column round((4 − 2) / 2) = 1.
    expect(Array.from(values.slice(0, 6))).toEqual([255, 0, 10, 255, 0, 20]);
  });

  test("grayscale is BT.601 luma, one channel; float16 and uint8 element types", async () => {
    const dir = folder("gray", { "a.png": png(1, 1, [[200, 100, 50]]) });
    const luma = 0.299 * 200 + 0.587 * 100 + 0.114 * 50;
    const [gray] = await read(dir, { channels: "gray", scale: 1 });
    expect(gray!.x!.dims).toEqual([1, 1, 1, 1]);
    expect((gray!.x!.toArray() as Float32Array)[0]).toBeCloseTo(luma, 4);
    const [half] = await read(dir, { dtype: "float16" });
    expect(half!.x!.dataType).toBe(DataType.FLOAT16);
    expect(Number(half!.x!.toArray()[0])).toBeCloseTo(200 / 255, 3);
    const [bytes] = await read(dir, { dtype: "uint8", scale: 1 });
    expect(bytes!.x!.dataType).toBe(DataType.UINT8);
    expect(Array.from(bytes!.x!.toArray() as Uint8Array)).toEqual([200, 100, 50]);
  });

  test("decodes a JPEG (jpeg-js) to the colour it was written with", async () => {
    const data = Buffer.alloc(8 * 8 * 4);
    for (let p = 0; p < 64; p++) data.set([200, 100, 50, 255], p * 4);
    const dir = folder("jpeg", { "a.jpg": jpeg.encode({ width: 8, height: 8, data }, 100).data });
    const [record] = await read(dir, { scale: 1 });
    const values = record!.x!.toArray() as Float32Array;
    expect(record!.x!.dims).toEqual([1, 3, 8, 8]);
    expect(Math.abs(values[0]! - 200)).toBeLessThanOrEqual(3);
    expect(Math.abs(values[64]! - 100)).toBeLessThanOrEqual(3);
    expect(Math.abs(values[128]! - 50)).toBeLessThanOrEqual(3);
  });

  test("labels: folder names as sorted classes, or a labels file with class names", async () => {
    const one = png(1, 1, [A]);
    const dir = folder("classes", {
      "dogs/b.png": one,
      "cats/a.png": one,
      "cats/c.png": one,
      "labels.csv": "cats/a.png,dog\ncats/c.png,cat\nb.png,dog\n",
      "ids.csv": "cats/a.png,2\ncats/c.png,0\nb.png,1\n",
      "text.csv": "cats/a.png,hello world\ncats/c.png,x\nb.png,y\n",
    });
    const label = (r: DataRecord, key = "label") => r[key]!.toArray()[0];
    const byFolder = await read(dir, { labels: { from: "folders" } });
    // Files in sorted path order: cats/a, cats/c, dogs/b.
    expect(byFolder.map((r) => label(r))).toEqual([0n, 0n, 1n]);
    expect(byFolder[0]!.label!.dims).toEqual([1]);
    const named = await read(dir, {
      labels: { from: "labels.csv", classes: ["cat", "dog"], key: "y" },
    });
    expect(named.map((r) => label(r, "y"))).toEqual([1n, 0n, 1n]);
    const ids = await read(dir, { labels: { from: "ids.csv" } });
    expect(ids.map((r) => label(r))).toEqual([2n, 0n, 1n]);
    const text = await read(dir, { labels: { from: "text.csv" } });
    expect(text[0]!.label!.dataType).toBe(DataType.STRING);
    expect(text[0]!.label!.toStrings()).toEqual(["hello world"]);
  });

  test("a glob, a list, and files() covering the matches and the labels file", async () => {
    const dir = folder("glob", {
      "a/1.png": png(1, 1, [A]),
      "b/2.png": png(1, 1, [B]),
      "b/3.jpg": jpeg.encode({ width: 1, height: 1, data: Buffer.from([1, 2, 3, 255]) }, 90).data,
      "labels.txt": "1.png,0\n2.png,1\n",
    });
    expect(await read(dir, { path: "**/*.png" })).toHaveLength(2);
    expect(await read(dir, { path: ["a", "b/2.png"] })).toHaveLength(2);
    const context = { resolve: (p: string) => resolve(dir, p) };
    const files = await imagesSource.files!(
      { path: "**/*.png", input: "x", labels: { from: "labels.txt" } } as ImagesOptions,
      context,
    );
    expect(files).toEqual([join(dir, "a/1.png"), join(dir, "b/2.png"), join(dir, "labels.txt")]);
    const set = imagesSource.open({ path: ".", input: "x" } as ImagesOptions, context);
    expect(await set.count!()).toBe(3);
  });

  test("clear errors: missing folder, no images, undecodable file, channel count, labels", async () => {
    const missing = await failure(root, { path: "nowhere" });
    expect(missing.message).toMatch(/no such image file or folder/);
    expect(missing.where).toBe(join(root, "nowhere"));

    const empty = folder("empty", { "notes.txt": "no images here" });
    expect((await failure(empty, {})).message).toMatch(
      /has no image files \(\.png, \.jpg, \.jpeg\)/,
    );
    expect((await failure(empty, { path: "*.png" })).message).toMatch(/no image files .* match/);

    const broken = folder("broken", { "good.png": png(1, 1, [A]), "bad.png": "not a png" });
    const decode = await failure(broken, {});
    expect(decode.code).toBe("DATA_DECODE_FAILED");
    expect(decode.message).toContain(join(broken, "bad.png"));
    const truncated = folder("truncated", { "cut.png": png(2, 2, [A, B, C, D]).subarray(0, 40) });
    expect((await failure(truncated, {})).message).toMatch(/cut\.png: the PNG decoder failed/);

    const channels = await failure(broken, { channels: "gray", mean: [0.5, 0.5, 0.5] });
    expect(channels.message).toMatch(/mean has 3 values for 1 channel \(channels: gray\)/);
    expect(channels.hint).toMatch(/single value/);

    const unlabeled = folder("unlabeled", { "a.png": png(1, 1, [A]), "l.csv": "other.png,1\n" });
    const label = await failure(unlabeled, { labels: { from: "l.csv" } });
    expect(label.message).toMatch(/no label for .*a\.png/);
    const classes = await failure(unlabeled, {
      labels: { from: "folders", classes: ["cats", "dogs"] },
    });
    expect(classes.message).toMatch(/label "unlabeled" is not one of the classes/);
  });
});
