import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { mkdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { errors, isLatheError } from "../diagnostics.js";
import type { Model } from "../ir/model.js";
import type { Tensor } from "../ir/tensor.js";
import { modelFromProto, tensorFromProto } from "./decode.js";
import { type ExternalPlacement, modelToProto } from "./encode.js";
import { ExternalDataResolver, readExternalData } from "./external-data.js";
import {
  type ModelProto,
  ModelProtoSchema,
  type TensorProto,
  TensorProtoSchema,
} from "./generated/onnx_pb.js";
import { type ByteSink, encodedSize, encodeToArray, encodeToSink } from "./proto-writer.js";

/** Protobuf messages cannot exceed 2 GiB; larger models keep their weights in external data. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

/**
 * Loads a model from a file. The weights stay views of the file's bytes; external-data
 * tensors are checked now (paths, ranges, sizes) but read only when first used.
 */
export async function loadModel(path: string): Promise<Model> {
  const file = resolve(path);
  let size: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw errors.notOnnx(path, "it is a directory, not a file");
    size = info.size;
  } catch (error) {
    if (isLatheError(error)) throw error;
    throw errors.fileNotFound(path);
  }
  if (size > PROTOBUF_LIMIT) throw errors.tooLarge(path, size);
  const bytes = await readFile(file);
  return decodeModelFile(
    new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length),
    path,
    dirname(file),
  );
}

export interface DecodeOptions {
  /** Name used in error messages. */
  file?: string;
  /** Folder that external-data locations are relative to; without it, external data is an error. */
  baseDir?: string;
}

/** Decodes a model from bytes (kept as views: do not reuse the buffer while the model lives). */
export function decodeModel(bytes: Uint8Array, options: DecodeOptions = {}): Model {
  return decodeModelFile(plainView(bytes), options.file ?? "<bytes>", options.baseDir);
}

function decodeModelFile(bytes: Uint8Array, file: string, baseDir: string | undefined): Model {
  const proto = parseModelProto(bytes, file);
  return modelFromProto(proto, {
    file,
    external: new ExternalDataResolver(file, baseDir),
    readExternal: readExternalData,
  });
}

function parseModelProto(bytes: Uint8Array, file: string): ModelProto {
  if (bytes.length === 0) throw errors.notOnnx(file, "the file is empty");
  let proto: ModelProto;
  try {
    proto = fromBinary(ModelProtoSchema, bytes);
  } catch (error) {
    const detail = (error as Error).message;
    if (/premature EOF|out of range|outside the bounds|offset/i.test(detail)) {
      throw errors.truncated(file, `protobuf data ends in the middle of a field (${detail})`);
    }
    throw errors.notOnnx(file, `it is not valid protobuf (${detail})`);
  }
  if (proto.irVersion === 0n && proto.opsetImport.length === 0) {
    throw errors.notOnnx(file, "it has no ir_version and no opset_import");
  }
  if (!proto.graph) throw errors.notOnnx(file, "it has no graph (is the file truncated?)");
  // Writers put opset_import after the graph, so a file cut right after the graph parses.
  if (proto.opsetImport.length === 0 && proto.irVersion >= 3n) {
    throw errors.notOnnx(
      file,
      "it has no opset_import, which IR version 3 and later require (is the file truncated?)",
    );
  }
  return proto;
}

/**
 * A plain Uint8Array over the same memory. Tensor bytes are views of the input, and a Node
 * Buffer's `slice` shares memory (unlike Uint8Array's), so a Buffer must not leak into the IR.
 */
function plainView(bytes: Uint8Array): Uint8Array {
  return Buffer.isBuffer(bytes)
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : bytes;
}

/** Decodes one TensorProto (a `.pb` file of the ONNX test suite, for example). */
export function decodeTensor(bytes: Uint8Array, file = "<bytes>"): Tensor {
  let proto: TensorProto;
  try {
    proto = fromBinary(TensorProtoSchema, plainView(bytes));
  } catch (error) {
    throw errors.truncated(file, (error as Error).message);
  }
  return tensorFromProto(proto, { file, external: undefined, readExternal: readExternalData });
}

/** Encodes a model into one byte array, weights inline (for in-memory use, e.g. ORT sessions). */
export function encodeModel(model: Model): Uint8Array {
  const proto = modelToProto(model);
  const size = encodedSize(ModelProtoSchema, proto);
  if (size > PROTOBUF_LIMIT) throw errors.tooLarge("<in-memory model>", size);
  return encodeToArray(ModelProtoSchema, proto);
}

export interface ExternalDataOptions {
  /** File name of the (first) data file, relative to the model. Default: `<model file>.data`. */
  location?: string;
  /** Tensors with at least this many bytes go to external data. Default 1024. */
  threshold?: number;
  /** Start a new data file when one would grow past this many bytes. Default: one file. */
  maxFileBytes?: number;
}

export interface SaveOptions {
  /** Store large tensors in external data files (required for models over 2 GiB). */
  externalData?: boolean | ExternalDataOptions;
}

export interface SaveResult {
  path: string;
  bytes: number;
  externalFiles: { path: string; bytes: number }[];
}

/**
 * Saves a model. The protobuf is streamed to disk (weights are written straight from their
 * buffers, never concatenated), external data goes to one or more data files, and everything
 * is written under temporary names and renamed at the end, so a failure leaves no partial file.
 */
export async function saveModel(
  model: Model,
  path: string,
  options: SaveOptions = {},
): Promise<SaveResult> {
  const target = resolve(path);
  const dir = dirname(target);
  const temps: string[] = [];
  const finals: string[] = [];
  const tempFor = (final: string) => {
    const temp = `${final}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    temps.push(temp);
    finals.push(final);
    return temp;
  };
  try {
    await mkdir(dir, { recursive: true });
    const external = options.externalData
      ? writeExternalData(
          model,
          target,
          options.externalData === true ? {} : options.externalData,
          tempFor,
        )
      : { placements: new Map<Tensor, ExternalPlacement>(), files: [] };
    const proto = modelToProto(model, { placeTensor: (t) => external.placements.get(t) });
    const size = encodedSize(ModelProtoSchema, proto);
    if (size > PROTOBUF_LIMIT) throw errors.tooLarge(path, size);
    const temp = tempFor(target);
    const written = withFile(temp, (sink) => encodeToSink(ModelProtoSchema, proto, sink));
    for (let i = 0; i < temps.length; i++) renameSync(temps[i]!, finals[i]!);
    temps.length = 0;
    relocate(external.placements, dir);
    return { path: target, bytes: written, externalFiles: external.files };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code && /^E[A-Z]+$/.test(code)) throw errors.cannotWrite(path, (error as Error).message);
    throw error;
  } finally {
    for (const temp of temps) rmSync(temp, { force: true });
  }
}

interface ExternalWrite {
  placements: Map<Tensor, ExternalPlacement>;
  files: { path: string; bytes: number }[];
}

/** Writes every initializer at or above the threshold to data files; returns where each went. */
function writeExternalData(
  model: Model,
  target: string,
  options: ExternalDataOptions,
  tempFor: (final: string) => string,
): ExternalWrite {
  const threshold = options.threshold ?? 1024;
  const maxFileBytes = options.maxFileBytes ?? Number.POSITIVE_INFINITY;
  const firstLocation = options.location ?? `${basename(target)}.data`;
  if (
    firstLocation.includes("/") ||
    firstLocation.includes("\\") ||
    firstLocation.startsWith(".")
  ) {
    throw errors.externalLocationUnsafe(
      target,
      "*",
      firstLocation,
      "is not a plain file name next to the model",
    );
  }
  const placements = new Map<Tensor, ExternalPlacement>();
  const files: { path: string; bytes: number }[] = [];
  let fd: number | undefined;
  let location = "";
  let offset = 0;
  const closeCurrent = () => {
    if (fd === undefined) return;
    fsyncSync(fd);
    closeSync(fd);
    files[files.length - 1]!.bytes = offset;
    fd = undefined;
  };
  try {
    for (const tensor of initializerTensors(model)) {
      const length = tensor.byteLength;
      if (length < threshold || placements.has(tensor)) continue;
      // Page-aligned offsets let runtimes map large tensors straight from the file.
      const alignment = length >= 4096 ? 4096 : 16;
      if (fd === undefined || (alignUp(offset, alignment) + length > maxFileBytes && offset > 0)) {
        closeCurrent();
        location = files.length === 0 ? firstLocation : `${firstLocation}.${files.length}`;
        const final = resolve(dirname(target), location);
        fd = openSync(tempFor(final), "w");
        files.push({ path: final, bytes: 0 });
        offset = 0;
      }
      const start = alignUp(offset, alignment);
      writeAll(fd, tensor.readBytesOnce(), start);
      placements.set(tensor, { location, offset: start, length });
      offset = start + length;
    }
    closeCurrent();
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return { placements, files };
}

/** After a save, external tensors read from their new files (the old ones may be gone). */
function relocate(placements: Map<Tensor, ExternalPlacement>, dir: string): void {
  for (const [tensor, p] of placements) {
    if (tensor.external) {
      tensor._relocate({
        tensor: tensor.name,
        path: resolve(dir, p.location),
        location: p.location,
        offset: p.offset,
        length: p.length,
      });
    }
  }
}

function* initializerTensors(model: Model): IterableIterator<Tensor> {
  const graphs = [model.graph];
  for (const node of model.allNodes()) graphs.push(...node.subgraphs());
  for (const graph of graphs) {
    for (const value of graph.initializers.values()) {
      const c = value.constValue;
      if (c && !("values" in c)) yield c;
    }
  }
}

function withFile<T>(path: string, body: (sink: ByteSink) => T): T {
  const fd = openSync(path, "w");
  try {
    let position = 0;
    const result = body({
      write(bytes) {
        writeAll(fd, bytes, position);
        position += bytes.length;
      },
    });
    fsyncSync(fd);
    return result;
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) {
    done += writeSync(fd, bytes, done, bytes.length - done, position + done);
  }
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}
