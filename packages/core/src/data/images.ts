import { imagesOptionsSchema } from "../generated/options.js";
import { defineDataSource } from "../plugin/define.js";
import type { DataRecord } from "../plugin/types.js";
import { dataKeyPaths, listDataFiles, readDataFile } from "./files.js";
import { decodeImage, IMAGE_EXTENSIONS } from "./image-decode.js";
import {
  type ChannelOrder,
  checkPreprocessing,
  type ImageSize,
  preprocessImage,
} from "./image-preprocess.js";
import { type FileLabels, fileLabels, labelsKeyPaths } from "./labels.js";

/** Options of the `images` data source. */
export interface ImagesOptions {
  /**
   * PNG and JPEG files, relative to the recipe: a folder (every .png/.jpg/.jpeg under it), a
   * glob (`photos/*.jpg`; `**` matches subfolders), a file, or a list of them. Records follow
   * the sorted paths.
   */
  path: string | string[];
  /** The model input the pixels feed (the record key). */
  input: string;
  /**
   * Channel order: `rgb`, `bgr` (OpenCV-trained models) or `gray` (one channel, BT.601 luma).
   * An alpha channel is dropped.
   * @default "rgb"
   */
  channels?: ChannelOrder;
  /**
   * Bilinear resize (Pillow's, antialiased when shrinking): a number sets the shorter side and
   * keeps the aspect ratio (torchvision's Resize(256)); `{ height, width }` is exact.
   */
  resize?: number | ImageSize;
  /** Center crop after resizing: a number for a square, or `{ height, width }`. */
  crop?: number | ImageSize;
  /**
   * Pixel values (0–255) are multiplied by this first.
   * @default 0.00392156862745098
   */
  scale?: number;
  /**
   * Subtracted after scaling: one value per channel, or one for all.
   * @default [0]
   */
  mean?: number[];
  /**
   * Divides after the mean: one value per channel, or one for all.
   * @default [1]
   */
  std?: number[];
  /**
   * `NCHW` ([1, C, H, W], PyTorch exports) or `NHWC` ([1, H, W, C], TensorFlow exports).
   * @default "NCHW"
   */
  layout?: "NCHW" | "NHWC";
  /**
   * The tensor's element type; `uint8` feeds raw pixels (scale 1, mean 0, std 1).
   * @default "float32"
   */
  dtype?: "float32" | "float16" | "uint8";
  /** Labels for task metrics: `{ from: folders }` or `{ from: labels.csv }` (docs/data.md). */
  labels?: FileLabels;
}

/**
 * Images from PNG/JPEG files, one record per file: `{ [input]: [1, C, H, W] }` (plus the label).
 */
export const imagesSource = defineDataSource<ImagesOptions>({
  id: "images",
  summary:
    "PNG/JPEG files (a folder or glob), resized, cropped and normalized for a model input, with labels",
  options: imagesOptionsSchema,
  open(options, context) {
    const preprocessing = {
      channels: options.channels ?? "rgb",
      scale: options.scale ?? 1 / 255,
      mean: options.mean ?? [0],
      std: options.std ?? [1],
      layout: options.layout ?? "NCHW",
      dtype: options.dtype ?? "float32",
      ...(options.resize === undefined ? {} : { resize: options.resize }),
      ...(options.crop === undefined ? {} : { crop: options.crop }),
    } as const;
    checkPreprocessing(preprocessing, "images");
    const files = () => listDataFiles(options.path, context.resolve, IMAGE_EXTENSIONS, "image");
    return {
      name: "images",
      async count() {
        return (await files()).length;
      },
      async *records(): AsyncIterable<DataRecord> {
        const list = await files();
        const labelOf = await fileLabels(options.labels, list, context.resolve);
        const labelKey = options.labels?.key ?? "label";
        for (const file of list) {
          const image = decodeImage(await readDataFile(file), file);
          const record: Record<string, DataRecord[string]> = {
            [options.input]: preprocessImage(image, preprocessing, file),
          };
          const label = labelOf(file);
          if (label) record[labelKey] = label;
          yield record;
        }
      },
    };
  },
  async files(options, context) {
    return [
      ...(await dataKeyPaths(options.path, context.resolve, IMAGE_EXTENSIONS)),
      ...labelsKeyPaths(options.labels, context.resolve),
    ];
  },
});
