/**
 * WAV (RIFF/WAVE) files to mono float samples in [-1, 1). The format is small enough to read
 * exactly, so errors can say which field is unsupported: PCM integers of 8 (unsigned), 16, 24
 * and 32 bits and IEEE floats of 32 and 64 bits, plain or WAVE_FORMAT_EXTENSIBLE; several
 * channels are averaged into one.
 */
import { errors } from "../diagnostics.js";

export interface DecodedAudio {
  readonly sampleRate: number;
  /** The original channel count (the samples are their average). */
  readonly channels: number;
  readonly samples: Float32Array;
}

const PCM = 1;
const IEEE_FLOAT = 3;
const EXTENSIBLE = 0xfffe;
const FORMAT_NAMES: Record<number, string> = {
  2: "Microsoft ADPCM",
  6: "A-law",
  7: "μ-law",
  17: "IMA ADPCM",
  85: "MPEG layer 3",
};

export const AUDIO_EXTENSIONS = [".wav", ".wave"] as const;

export function decodeWav(bytes: Uint8Array, file: string): DecodedAudio {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));
  if (bytes.length < 12 || text(0) !== "RIFF" || text(8) !== "WAVE")
    throw errors.dataDecodeFailed(
      file,
      `not a WAV file (no RIFF/WAVE header${text(0) === "RF64" ? "; RF64 is not read" : ""})`,
    );
  let format: { tag: number; channels: number; rate: number; bits: number } | undefined;
  let data: Uint8Array | undefined;
  for (let at = 12; at + 8 <= bytes.length; ) {
    const id = text(at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === "fmt ") {
      if (size < 16) throw errors.dataDecodeFailed(file, `its fmt chunk is ${size} bytes (< 16)`);
      let tag = view.getUint16(body, true);
      // WAVE_FORMAT_EXTENSIBLE names the real format in its sub-format GUID's first two bytes.
      if (tag === EXTENSIBLE && size >= 26) tag = view.getUint16(body + 24, true);
      format = {
        tag,
        channels: view.getUint16(body + 2, true),
        rate: view.getUint32(body + 4, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === "data") {
      // A streamed file may declare more than it holds: read what is there.
      data = bytes.subarray(body, Math.min(body + size, bytes.length));
    }
    at = body + size + (size % 2); // chunks are padded to an even length
  }
  if (!format) throw errors.dataDecodeFailed(file, "it has no fmt chunk");
  if (!data) throw errors.dataDecodeFailed(file, "it has no data chunk");
  const { tag, channels, rate, bits } = format;
  if (channels < 1 || rate < 1)
    throw errors.dataDecodeFailed(file, `its header says ${channels} channels at ${rate} Hz`);
  const read = sampleReader(tag, bits, file);
  const width = bits / 8;
  const frames = Math.floor(data.length / (width * channels));
  const dataView = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const samples = new Float32Array(frames);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += read(dataView, (f * channels + c) * width);
    samples[f] = sum / channels;
  }
  return { sampleRate: rate, channels, samples };
}

type SampleReader = (view: DataView, at: number) => number;

function sampleReader(tag: number, bits: number, file: string): SampleReader {
  if (tag === PCM) {
    if (bits === 8) return (v, at) => (v.getUint8(at) - 128) / 128;
    if (bits === 16) return (v, at) => v.getInt16(at, true) / 32768;
    if (bits === 24)
      return (v, at) => {
        const value = v.getUint8(at) | (v.getUint8(at + 1) << 8) | (v.getInt8(at + 2) << 16);
        return value / 8388608;
      };
    if (bits === 32) return (v, at) => v.getInt32(at, true) / 2147483648;
  }
  if (tag === IEEE_FLOAT) {
    if (bits === 32) return (v, at) => v.getFloat32(at, true);
    if (bits === 64) return (v, at) => v.getFloat64(at, true);
  }
  const name =
    tag === PCM
      ? `${bits}-bit PCM`
      : tag === IEEE_FLOAT
        ? `${bits}-bit float`
        : (FORMAT_NAMES[tag] ?? `format tag ${tag}`);
  throw errors.dataDecodeFailed(
    file,
    `${name} samples are not read (PCM 8/16/24/32-bit or float 32/64-bit are); convert it, e.g. ffmpeg -i in.wav -c:a pcm_s16le out.wav`,
  );
}
