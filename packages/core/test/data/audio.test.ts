import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  type AudioOptions,
  audioSource,
  type DataRecord,
  DataType,
  isLatheError,
  type LatheError,
} from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, describe, expect, test } from "vitest";

const tempDir = tempDirs(afterAll);

const root = tempDir("lathe-audio-");

type Encoding = "pcm8" | "pcm16" | "pcm24" | "pcm32" | "float32";

/** A WAV file written by hand: `channels[c][i]` in [-1, 1), interleaved, in `encoding`. */
function wav(rate: number, channels: number[][], encoding: Encoding, extensible = false): Buffer {
  const bits = { pcm8: 8, pcm16: 16, pcm24: 24, pcm32: 32, float32: 32 }[encoding];
  const tag = encoding === "float32" ? 3 : 1;
  const width = bits / 8;
  const frames = channels[0]!.length;
  const data = Buffer.alloc(frames * channels.length * width);
  for (let f = 0; f < frames; f++)
    for (let c = 0; c < channels.length; c++) {
      const v = channels[c]![f]!;
      const at = (f * channels.length + c) * width;
      if (encoding === "pcm8") data.writeUInt8(Math.round(v * 128) + 128, at);
      else if (encoding === "pcm16") data.writeInt16LE(Math.round(v * 32768), at);
      else if (encoding === "pcm24") data.writeIntLE(Math.round(v * 8388608), at, 3);
      else if (encoding === "pcm32") data.writeInt32LE(Math.round(v * 2147483648), at);
      else data.writeFloatLE(v, at);
    }
  const fmt = Buffer.alloc(extensible ? 40 : 16);
  fmt.writeUInt16LE(extensible ? 0xfffe : tag, 0);
  fmt.writeUInt16LE(channels.length, 2);
  fmt.writeUInt32LE(rate, 4);
  fmt.writeUInt32LE(rate * channels.length * width, 8);
  fmt.writeUInt16LE(channels.length * width, 12);
  fmt.writeUInt16LE(bits, 14);
  if (extensible) {
    fmt.writeUInt16LE(22, 16);
    fmt.writeUInt16LE(bits, 18);
    fmt.writeUInt16LE(tag, 24); // the sub-format GUID starts with the format tag
  }
  const chunk = (id: string, body: Buffer) => {
    const header = Buffer.alloc(8);
    header.write(id, 0, "latin1");
    header.writeUInt32LE(body.length, 4);
    return Buffer.concat([header, body, Buffer.alloc(body.length % 2)]);
  };
  // A LIST chunk of odd length before the data: readers must skip it and its pad byte.
  const body = Buffer.concat([
    Buffer.from("WAVE"),
    chunk("fmt ", fmt),
    chunk("LIST", Buffer.from("odd")),
    chunk("data", data),
  ]);
  return Buffer.concat([Buffer.from("RIFF"), Buffer.from([0, 0, 0, 0]), body]);
}

function folder(name: string, files: Record<string, Buffer | string>): string {
  const dir = join(root, name);
  for (const [file, bytes] of Object.entries(files)) {
    mkdirSync(join(dir, file, ".."), { recursive: true });
    writeFileSync(join(dir, file), bytes);
  }
  return dir;
}

async function read(dir: string, options: Partial<AudioOptions>): Promise<DataRecord[]> {
  const set = audioSource.open({ path: ".", input: "audio", ...options } as AudioOptions, {
    resolve: (p) => resolve(dir, p),
  });
  const out: DataRecord[] = [];
  for await (const record of set.records()) out.push(record);
  return out;
}

async function failure(dir: string, options: Partial<AudioOptions>): Promise<LatheError> {
  const error = await read(dir, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isLatheError(error)) throw new Error(`expected a LatheError, got ${String(error)}`);
  return error;
}

const samplesOf = (record: DataRecord) => Array.from(record.audio!.toArray() as Float32Array);

describe("audio", () => {
  test("PCM 8/16/24/32-bit and float32, plain or extensible, read to the same values", async () => {
    const values = [0, 0.5, -0.5, 0.25, -1];
    const files: Record<string, Buffer> = {};
    for (const encoding of ["pcm8", "pcm16", "pcm24", "pcm32", "float32"] as const) {
      files[`${encoding}.wav`] = wav(8000, [values], encoding);
      files[`${encoding}-ext.wav`] = wav(8000, [values], encoding, true);
    }
    const records = await read(folder("formats", files), {});
    expect(records).toHaveLength(10);
    for (const record of records) {
      expect(record.audio!.dims).toEqual([1, 5]);
      expect(samplesOf(record)).toEqual(values);
    }
  });

  test("stereo is averaged into mono; layouts NT, NCT and T; float16", async () => {
    const dir = folder("stereo", {
      "s.wav": wav(
        8000,
        [
          [0.5, 0.25],
          [-0.25, 0.25],
        ],
        "float32",
      ),
    });
    const [nt] = await read(dir, {});
    expect(samplesOf(nt!)).toEqual([0.125, 0.25]);
    expect((await read(dir, { layout: "NCT" }))[0]!.audio!.dims).toEqual([1, 1, 2]);
    expect((await read(dir, { layout: "T" }))[0]!.audio!.dims).toEqual([2]);
    const [half] = await read(dir, { dtype: "float16" });
    expect(half!.audio!.dataType).toBe(DataType.FLOAT16);
  });

  test("resampling 48 kHz → 16 kHz keeps a 440 Hz tone (band-limited sinc)", async () => {
    const tone = (rate: number, n: number) =>
      Array.from({ length: n }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / rate));
    const dir = folder("resample", { "tone.wav": wav(48000, [tone(48000, 4800)], "float32") });
    const [record] = await read(dir, { sampleRate: 16000 });
    const got = samplesOf(record!);
    expect(got).toHaveLength(1600);
    const want = tone(16000, 1600);
    // Away from the ends (where the kernel reads the zeros outside the file): within 2e-3.
    let worst = 0;
    for (let i = 50; i < 1550; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    expect(worst).toBeLessThan(2e-3);
    // A 12 kHz tone is above the new Nyquist rate (8 kHz): removed, not folded back to 4 kHz.
    const high = Array.from({ length: 4800 }, (_, i) =>
      Math.sin((2 * Math.PI * 12000 * i) / 48000),
    );
    const filtered = samplesOf(
      (
        await read(folder("alias", { "hi.wav": wav(48000, [high], "float32") }), {
          sampleRate: 16000,
        })
      )[0]!,
    );
    let energy = 0;
    for (let i = 50; i < 1550; i++) energy = Math.max(energy, Math.abs(filtered[i]!));
    expect(energy).toBeLessThan(0.01);
  });

  test("upsampling 8 kHz → 16 kHz: the original samples stay, the new ones interpolate", async () => {
    const tone = (rate: number, n: number) =>
      Array.from({ length: n }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 300 * i) / rate));
    const dir = folder("up", { "t.wav": wav(8000, [tone(8000, 800)], "float32") });
    const got = samplesOf((await read(dir, { sampleRate: 16000 }))[0]!);
    const want = tone(16000, 1600);
    let worst = 0;
    for (let i = 50; i < 1550; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    expect(worst).toBeLessThan(2e-3);
  });

  test("fixed windows with a hop; the last one padded with zeros or dropped", async () => {
    const ramp = Array.from({ length: 10 }, (_, i) => i / 16);
    const dir = folder("windows", { "r.wav": wav(16000, [ramp], "float32") });
    const padded = await read(dir, { window: { length: 4, hop: 3 } });
    expect(padded.map(samplesOf)).toEqual([
      [0, 1, 2, 3].map((i) => i / 16),
      [3, 4, 5, 6].map((i) => i / 16),
      [6, 7, 8, 9].map((i) => i / 16),
    ]);
    const zeros = await read(dir, { window: { length: 4 } });
    expect(zeros.map(samplesOf).at(-1)).toEqual([8 / 16, 9 / 16, 0, 0]);
    const dropped = await read(dir, { window: { length: 4, last: "drop" } });
    expect(dropped).toHaveLength(2);
  });

  test("labels per file reach every window; files() lists the WAVs and the labels file", async () => {
    const dir = folder("labeled", {
      "speech/a.wav": wav(8000, [[0.1, 0.2, 0.3, 0.4]], "pcm16"),
      "noise/b.wav": wav(8000, [[0.1, 0.2]], "pcm16"),
      "labels.csv": "speech/a.wav,1\nnoise/b.wav,0\n",
    });
    const records = await read(dir, { window: { length: 2 }, labels: { from: "labels.csv" } });
    expect(records.map((r) => r.label!.toArray()[0])).toEqual([0n, 1n, 1n]);
    const files = await audioSource.files!(
      { path: "**/*.wav", input: "audio", labels: { from: "labels.csv" } } as AudioOptions,
      { resolve: (p) => resolve(dir, p) },
    );
    expect(files).toEqual([
      join(dir, "noise/b.wav"),
      join(dir, "speech/a.wav"),
      join(dir, "labels.csv"),
    ]);
  });

  test("clear errors: not a WAV, unsupported encodings, missing folder, short file", async () => {
    const notWav = folder("not-wav", { "x.wav": "plain text" });
    const error = await failure(notWav, {});
    expect(error.code).toBe("DATA_DECODE_FAILED");
    expect(error.message).toContain(join(notWav, "x.wav"));
    expect(error.message).toMatch(/not a WAV file/);

    const alaw = wav(8000, [[0, 0]], "pcm16");
    alaw.writeUInt16LE(6, 20); // the fmt chunk's format tag: A-law
    const law = await failure(folder("alaw", { "a.wav": alaw }), {});
    expect(law.message).toMatch(/A-law samples are not read/);
    const pcm12 = wav(8000, [[0, 0]], "pcm16");
    pcm12.writeUInt16LE(12, 34); // bits per sample
    expect((await failure(folder("pcm12", { "b.wav": pcm12 }), {})).message).toMatch(
      /12-bit PCM samples are not read/,
    );

    expect((await failure(root, { path: "absent" })).message).toMatch(/no such WAV file or folder/);
    const short = folder("short", { "s.wav": wav(8000, [[0.1, 0.2]], "pcm16") });
    expect((await failure(short, { window: { length: 4, last: "drop" } })).message).toMatch(
      /fewer than one window/,
    );
  });
});
