/**
 * The images source's preprocessing, in the order torchvision's usual transform applies it:
 * channels → resize → center crop → scale → mean/std → layout and dtype. Pixels stay floating
 * point throughout (no rounding back to bytes between steps, unlike Pillow).
 */
import { errors } from "../diagnostics.js";
import { DataType } from "../ir/dtype.js";
import { Tensor } from "../ir/tensor.js";
import type { RgbaImage } from "./image-decode.js";

/** An exact size in pixels. */
export interface ImageSize {
  /**
   * Rows, in pixels.
   * @integer @minimum 1
   */
  height: number;
  /**
   * Columns, in pixels.
   * @integer @minimum 1
   */
  width: number;
}

export type ChannelOrder = "rgb" | "bgr" | "gray";

export interface ImagePreprocessing {
  readonly channels: ChannelOrder;
  /** A number: the shorter side's length, the aspect ratio kept; a size: exactly that. */
  readonly resize?: number | ImageSize;
  /** A number: a square; taken from the center. */
  readonly crop?: number | ImageSize;
  readonly scale: number;
  readonly mean: readonly number[];
  readonly std: readonly number[];
  readonly layout: "NCHW" | "NHWC";
  readonly dtype: "float32" | "float16" | "uint8";
}

/** Planes of one image: `channels` planes of `height × width` floats. */
interface Planes {
  readonly width: number;
  readonly height: number;
  readonly planes: Float32Array[];
}

/** ITU-R BT.601 luma, as Pillow's convert("L") and torchvision's Grayscale weigh the channels. */
const LUMA = [0.299, 0.587, 0.114] as const;

/** Checks the options that do not depend on an image; `where` names the data set. */
export function checkPreprocessing(options: ImagePreprocessing, where: string): void {
  const channels = options.channels === "gray" ? 1 : 3;
  for (const key of ["mean", "std"] as const) {
    const values = options[key];
    if (values.length !== 1 && values.length !== channels)
      throw errors.dataOptionsInvalid(
        where,
        `${key} has ${values.length} values for ${channels} channel${channels === 1 ? "" : "s"} (channels: ${options.channels})`,
        `give one value for every channel, or one for all; ${options.channels === "gray" ? "for grayscale a single value" : "or set channels: gray for one channel"}`,
      );
  }
  if (options.std.some((s) => s === 0))
    throw errors.dataOptionsInvalid(where, "std has a zero", "std divides: give non-zero values");
  if (options.dtype === "uint8" && (options.scale !== 1 || options.mean.some((m) => m !== 0)))
    throw errors.dataOptionsInvalid(
      where,
      "dtype uint8 feeds raw pixel values, but scale or mean is set",
      "set scale: 1, mean: [0], std: [1] for uint8, or choose dtype float32",
    );
}

/** One decoded image as the tensor the model input reads: [1, C, H, W] or [1, H, W, C]. */
export function preprocessImage(
  image: RgbaImage,
  options: ImagePreprocessing,
  file: string,
): Tensor {
  let planes = channelPlanes(image, options.channels);
  if (options.resize !== undefined) planes = resize(planes, resizedSize(planes, options.resize));
  if (options.crop !== undefined) planes = centerCrop(planes, sizeOf(options.crop), file);
  const { width, height } = planes;
  const channels = planes.planes.length;
  const count = channels * width * height;
  const values = new Float32Array(count);
  const nchw = options.layout === "NCHW";
  for (let c = 0; c < channels; c++) {
    const plane = planes.planes[c]!;
    const mean = options.mean[options.mean.length === 1 ? 0 : c]!;
    const std = options.std[options.std.length === 1 ? 0 : c]!;
    for (let p = 0; p < width * height; p++) {
      const v = (plane[p]! * options.scale - mean) / std;
      values[nchw ? c * width * height + p : p * channels + c] = v;
    }
  }
  const dims = nchw ? [1, channels, height, width] : [1, height, width, channels];
  if (options.dtype === "uint8") {
    const bytes = Uint8Array.from(values, (v) => Math.min(255, Math.max(0, Math.round(v))));
    return Tensor.fromArray(DataType.UINT8, dims, bytes);
  }
  return Tensor.fromArray(
    options.dtype === "float16" ? DataType.FLOAT16 : DataType.FLOAT,
    dims,
    values,
  );
}

function channelPlanes(image: RgbaImage, order: ChannelOrder): Planes {
  const { width, height, rgba } = image;
  const n = width * height;
  const plane = (weights: readonly number[]) => {
    const out = new Float32Array(n);
    for (let p = 0; p < n; p++) {
      let v = 0;
      for (let k = 0; k < 3; k++) v += weights[k]! * rgba[p * 4 + k]!;
      out[p] = v;
    }
    return out;
  };
  const red = [1, 0, 0];
  const green = [0, 1, 0];
  const blue = [0, 0, 1];
  const planes =
    order === "gray"
      ? [plane(LUMA)]
      : order === "rgb"
        ? [plane(red), plane(green), plane(blue)]
        : [plane(blue), plane(green), plane(red)];
  return { width, height, planes };
}

function sizeOf(size: number | ImageSize): ImageSize {
  return typeof size === "number" ? { height: size, width: size } : size;
}

/** A number resizes the shorter side to it (torchvision's Resize(int)); a size is exact. */
function resizedSize(planes: Planes, resize: number | ImageSize): ImageSize {
  if (typeof resize !== "number") return resize;
  const { width, height } = planes;
  if (width <= height)
    return { width: resize, height: Math.max(1, Math.floor((resize * height) / width)) };
  return { height: resize, width: Math.max(1, Math.floor((resize * width) / height)) };
}

/**
 * Bilinear resampling as Pillow's resize(BILINEAR) computes it (torch's interpolate with
 * antialias=True the same): a triangle filter widened by the reduction factor when shrinking,
 * so downscaling averages every source pixel instead of skipping some; when enlarging it is
 * ordinary half-pixel bilinear interpolation with the edges clamped. Separable: rows, then columns.
 */
function resize(planes: Planes, to: ImageSize): Planes {
  if (to.width === planes.width && to.height === planes.height) return planes;
  const horizontal = filterWeights(planes.width, to.width);
  const vertical = filterWeights(planes.height, to.height);
  const out = planes.planes.map((plane) => {
    const rows = new Float32Array(planes.height * to.width);
    for (let y = 0; y < planes.height; y++)
      for (let x = 0; x < to.width; x++) {
        const { first, weights } = horizontal[x]!;
        let v = 0;
        for (let k = 0; k < weights.length; k++)
          v += weights[k]! * plane[y * planes.width + first + k]!;
        rows[y * to.width + x] = v;
      }
    const result = new Float32Array(to.height * to.width);
    for (let y = 0; y < to.height; y++) {
      const { first, weights } = vertical[y]!;
      for (let x = 0; x < to.width; x++) {
        let v = 0;
        for (let k = 0; k < weights.length; k++)
          v += weights[k]! * rows[(first + k) * to.width + x]!;
        result[y * to.width + x] = v;
      }
    }
    return result;
  });
  return { width: to.width, height: to.height, planes: out };
}

/** For each output position: the first source index and the normalized weights from it on. */
function filterWeights(
  inSize: number,
  outSize: number,
): { first: number; weights: Float64Array }[] {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the triangle's support (1) widened when shrinking
  return Array.from({ length: outSize }, (_, x) => {
    const center = (x + 0.5) * scale;
    const first = Math.max(Math.trunc(center - support + 0.5), 0);
    const last = Math.min(Math.trunc(center + support + 0.5), inSize);
    const weights = new Float64Array(last - first);
    let total = 0;
    for (let i = first; i < last; i++) {
      const w = Math.max(0, 1 - Math.abs((i - center + 0.5) / filterScale));
      weights[i - first] = w;
      total += w;
    }
    for (let k = 0; k < weights.length; k++) weights[k]! /= total;
    return { first, weights };
  });
}

/** torchvision's CenterCrop offsets (Python's round: halves to even). */
function centerCrop(planes: Planes, to: ImageSize, file: string): Planes {
  if (to.width > planes.width || to.height > planes.height)
    throw errors.dataOptionsInvalid(
      file,
      `crop ${to.height}×${to.width} is larger than the image (${planes.height}×${planes.width} after resizing)`,
      "crop to a size no larger than resize gives, or resize first (resize: <shorter side>)",
    );
  const top = roundHalfEven((planes.height - to.height) / 2);
  const left = roundHalfEven((planes.width - to.width) / 2);
  const out = planes.planes.map((plane) => {
    const result = new Float32Array(to.height * to.width);
    for (let y = 0; y < to.height; y++)
      result.set(
        plane.subarray((top + y) * planes.width + left, (top + y) * planes.width + left + to.width),
        y * to.width,
      );
    return result;
  });
  return { width: to.width, height: to.height, planes: out };
}

function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff !== 0.5) return Math.round(x);
  return floor % 2 === 0 ? floor : floor + 1;
}
