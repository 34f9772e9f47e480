import { closeSync, fstatSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { errors } from "../diagnostics.js";
import type { ExternalDataRef } from "../ir/tensor.js";

/** The `external_data` entries of a TensorProto, as ONNX writes them. */
export interface ExternalDataEntries {
  location?: string;
  offset?: string;
  length?: string;
  checksum?: string;
}

/**
 * Resolves and checks one tensor's external data against the model's folder: the location
 * must be relative and stay inside the folder (also through symlinks), the file must exist,
 * and offset + length must lie within it. Sizes of data files are looked up once per file.
 */
export class ExternalDataResolver {
  readonly #modelFile: string;
  readonly #baseDir: string | undefined;
  readonly #realBase: string | undefined;
  readonly #fileSizes = new Map<string, number>();

  constructor(modelFile: string, baseDir: string | undefined) {
    this.#modelFile = modelFile;
    this.#baseDir = baseDir;
    this.#realBase = baseDir === undefined ? undefined : realpathSync(baseDir);
  }

  resolve(tensor: string, entries: ExternalDataEntries, expectedLength: number): ExternalDataRef {
    const file = this.#modelFile;
    const location = entries.location;
    if (location === undefined || location === "") {
      throw errors.externalDataInvalid(file, tensor, 'the "location" key is missing');
    }
    if (this.#baseDir === undefined || this.#realBase === undefined) {
      throw errors.externalDataInvalid(
        file,
        tensor,
        "the model was decoded from bytes without its folder, so external data cannot be found (load it from its path)",
      );
    }
    if (isAbsolute(location) || /^[a-zA-Z]:[\\/]/.test(location) || location.startsWith("\\")) {
      throw errors.externalLocationUnsafe(file, tensor, location, "is an absolute path");
    }
    const path = resolve(this.#baseDir, location);
    if (!isInside(this.#baseDir, path)) {
      throw errors.externalLocationUnsafe(file, tensor, location, "leaves the model's folder");
    }
    let size = this.#fileSizes.get(path);
    if (size === undefined) {
      let real: string;
      try {
        real = realpathSync(path);
      } catch {
        throw errors.externalDataMissing(file, tensor, location);
      }
      if (!isInside(this.#realBase, real)) {
        throw errors.externalLocationUnsafe(
          file,
          tensor,
          location,
          "is a link that leaves the model's folder",
        );
      }
      const stat = statSync(real);
      if (!stat.isFile())
        throw errors.externalDataInvalid(file, tensor, `"${location}" is not a file`);
      size = stat.size;
      this.#fileSizes.set(path, size);
    }
    const offset = parseCount(file, tensor, "offset", entries.offset ?? "0");
    const length =
      entries.length === undefined
        ? size - offset
        : parseCount(file, tensor, "length", entries.length);
    if (offset + length > size || offset > size) {
      throw errors.externalDataOutOfRange(file, tensor, location, offset, length, size);
    }
    if (length !== expectedLength) {
      throw errors.tensorSizeMismatch(
        file,
        tensor,
        `external data "${location}" holds ${length} bytes, but the tensor's dims and type need ${expectedLength}`,
      );
    }
    return entries.checksum === undefined
      ? { tensor, path, location, offset, length }
      : { tensor, path, location, offset, length, checksum: entries.checksum };
  }
}

/** Reads the bytes of one external tensor (synchronously: it is one positioned read). */
export function readExternalData(ref: ExternalDataRef): Uint8Array {
  let fd: number;
  try {
    fd = openSync(ref.path, "r");
  } catch (error) {
    // The file was there at load time; it has been moved or deleted since.
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw errors.externalDataMissing(ref.path, ref.tensor, ref.location);
    }
    throw error;
  }
  try {
    const size = fstatSync(fd).size;
    const outOfRange = () =>
      errors.externalDataOutOfRange(
        ref.path,
        ref.tensor,
        ref.location,
        ref.offset,
        ref.length,
        size,
      );
    if (ref.offset + ref.length > size) throw outOfRange();
    const bytes = Buffer.allocUnsafe(ref.length);
    let done = 0;
    while (done < ref.length) {
      const n = readSync(fd, bytes, done, ref.length - done, ref.offset + done);
      if (n === 0) throw outOfRange();
      done += n;
    }
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  } finally {
    closeSync(fd);
  }
}

function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== "" && !rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel);
}

function parseCount(file: string, tensor: string, key: string, text: string): number {
  if (!/^\d+$/.test(text.trim())) {
    throw errors.externalDataInvalid(file, tensor, `"${key}" is "${text}", not a byte count`);
  }
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n))
    throw errors.externalDataInvalid(file, tensor, `"${key}" ${text} is too large`);
  return n;
}
