/**
 * PNG and JPEG files to RGBA pixels, with pure-JS decoders (pngjs, jpeg-js): no native
 * build, the same pixels on every machine. The format is read from the file's first bytes, not
 * its name.
 */
import jpeg from "jpeg-js";
import pngjs from "pngjs";
import { errors } from "../diagnostics.js";

/** Decoded pixels: `width × height` RGBA bytes, row after row. */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly rgba: Uint8Array;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47];
const JPEG_MAGIC = [0xff, 0xd8, 0xff];

/** The extensions the images source lists in folders. */
export const IMAGE_EXTENSIONS = [".png", ".jpg", ".jpeg"] as const;

export function decodeImage(bytes: Uint8Array, file: string): RgbaImage {
  const startsWith = (magic: readonly number[]) => magic.every((b, i) => bytes[i] === b);
  const format = startsWith(PNG_MAGIC) ? "PNG" : startsWith(JPEG_MAGIC) ? "JPEG" : undefined;
  if (!format)
    throw errors.dataDecodeFailed(
      file,
      "neither a PNG nor a JPEG file (its first bytes are neither signature)",
    );
  try {
    if (format === "PNG") {
      // pngjs expands grayscale, palette and 16-bit images to 8-bit RGBA.
      const png = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
      return { width: png.width, height: png.height, rgba: new Uint8Array(png.data) };
    }
    const image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
    return { width: image.width, height: image.height, rgba: image.data };
  } catch (error) {
    throw errors.dataDecodeFailed(
      file,
      `the ${format} decoder failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
