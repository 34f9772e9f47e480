/**
 * The images and audio data sources read the real task data (test/models/make-data.py: lines
 * rendered by Pillow, speech from espeak-ng written by Python's wave module) exactly as the
 * task checks' own numpy preprocessing does, so a recipe can calibrate and evaluate on the files
 * themselves instead of prepared .npy arrays.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type AudioOptions,
  audioSource,
  type DataRecord,
  type DataSet,
  type ImagesOptions,
  imagesSource,
  parseNpy,
} from "@lathe/core";
import { describe, expect, it } from "vitest";
import { taskData } from "./real-models.js";

async function all(set: DataSet): Promise<DataRecord[]> {
  const out: DataRecord[] = [];
  for await (const record of set.records()) out.push(record);
  return out;
}

const text = taskData("text");
describe.skipIf(typeof text === "string")("images source on the rendered text lines", () => {
  if (typeof text === "string") it.skip(text, () => {});
  it("equals the recognizer's input the task check prepares with numpy: (x / 255 − 0.5) / 0.5", async () => {
    const { folder } = text as { folder: string };
    const split = join(folder, "evaluation");
    const options: ImagesOptions = { path: "*.png", input: "x", mean: [0.5], std: [0.5] };
    const records = await all(imagesSource.open(options, { resolve: (p) => join(split, p) }));
    const npy = join(split, "images.npy");
    const reference = parseNpy(new Uint8Array(readFileSync(npy)), npy, "x");
    const [n, c, h, w] = reference.dims as number[];
    expect(records).toHaveLength(n!);
    const want = Array.from(reference.toArray() as Float64Array | Float32Array, Number);
    const per = c! * h! * w!;
    let worst = 0;
    records.forEach((record, i) => {
      expect(record.x!.dims).toEqual([1, c, h, w]);
      const got = record.x!.toArray() as Float32Array;
      for (let k = 0; k < per; k++) worst = Math.max(worst, Math.abs(got[k]! - want[i * per + k]!));
    });
    expect(worst).toBeLessThan(1e-6);
  });
});

const speech = taskData("speech");
describe.skipIf(typeof speech === "string")("audio source on the synthesized speech", () => {
  if (typeof speech === "string") it.skip(speech, () => {});
  it("reads the 16-bit clips as samples / 32768; at 16 kHz, in the 512-sample frames the labels count", async () => {
    const { folder } = speech as { folder: string };
    const split = join(folder, "evaluation");
    const clips = readdirSync(split)
      .filter((f) => f.endsWith(".wav"))
      .sort();
    const options: AudioOptions = {
      path: clips[0]!,
      input: "audio",
      window: { length: 512, last: "drop" },
    };
    const resolve = (p: string) => join(split, p);
    const records = await all(audioSource.open(options, { resolve }));
    // The labels file has one 0/1 per whole 512-sample frame of the 16 kHz stream the detector
    // reads (make-data writes espeak-ng's 22.05 kHz): as many as the resampled windows.
    const labels = readFileSync(join(split, clips[0]!.replace(".wav", ".labels")), "utf8").trim();
    const resampled = await all(audioSource.open({ ...options, sampleRate: 16000 }, { resolve }));
    expect(resampled).toHaveLength(labels.length);
    // The samples, read by hand from the data chunk (make-data writes a plain 44-byte header).
    const bytes = readFileSync(join(split, clips[0]!));
    for (const [w, record] of records.entries()) {
      const got = record.audio!.toArray() as Float32Array;
      for (const k of [0, 1, 255, 511])
        expect(got[k]).toBe(bytes.readInt16LE(44 + 2 * (w * 512 + k)) / 32768);
    }
  });
});
