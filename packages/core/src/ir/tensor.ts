import { errors } from "../diagnostics.js";
import {
  byteLength,
  DataType,
  dataTypeInfo,
  decodeElements,
  type ElementArray,
  encodeElements,
} from "./dtype.js";

/** Where a tensor's bytes live in an external-data file, as written in the model. */
export interface ExternalDataRef {
  /** Name of the tensor, for error messages. */
  readonly tensor: string;
  /** Absolute path of the data file, resolved and checked when the model was loaded. */
  readonly path: string;
  /** The `location` as the model wrote it (relative to the model's folder). */
  readonly location: string;
  readonly offset: number;
  readonly length: number;
  readonly checksum?: string;
}

/** Reads the bytes an external reference points at; supplied by the codec, so the IR needs no fs. */
export type ExternalReader = (ref: ExternalDataRef) => Uint8Array;

type TensorStorage =
  | { readonly kind: "bytes"; readonly bytes: Uint8Array }
  | { readonly kind: "strings"; readonly strings: readonly Uint8Array[] }
  | {
      readonly kind: "external";
      readonly ref: ExternalDataRef;
      readonly read: ExternalReader;
      cached?: Uint8Array | undefined;
    };

export interface TensorInit {
  name?: string;
  docString?: string;
  metadataProps?: Iterable<[string, string]>;
}

/**
 * A constant n-dimensional array: an initializer, a Constant's value, or a tensor attribute.
 *
 * The bytes are the ONNX `raw_data` layout (little-endian, sub-byte types packed). They are
 * kept as given — usually a view of the model file's buffer — or, for external data, read only
 * when something asks for them, so a model far larger than memory can be inspected and rewritten.
 */
export class Tensor {
  name: string;
  docString: string;
  readonly metadataProps: Map<string, string>;
  readonly dataType: DataType;
  readonly dims: readonly number[];
  #storage: TensorStorage;

  private constructor(
    dataType: DataType,
    dims: readonly number[],
    storage: TensorStorage,
    init: TensorInit,
  ) {
    this.dataType = dataType;
    this.dims = Object.freeze([...dims]);
    this.#storage = storage;
    this.name = init.name ?? "";
    this.docString = init.docString ?? "";
    this.metadataProps = new Map(init.metadataProps ?? []);
  }

  /** A tensor over existing raw bytes (no copy). Throws when the length does not fit the dims. */
  static fromBytes(
    dataType: DataType,
    dims: readonly number[],
    bytes: Uint8Array,
    init: TensorInit = {},
  ): Tensor {
    checkDims(dims, init.name);
    if (dataType === DataType.STRING) {
      throw errors.irMisuse(
        `tensor "${init.name ?? ""}": string tensors are built with Tensor.fromStrings`,
      );
    }
    const expected = byteLength(dataType, elementCount(dims));
    if (bytes.length !== expected) {
      throw errors.tensorSizeMismatch(
        "tensor",
        init.name ?? "",
        `${bytes.length} bytes of data, but dims [${dims.join(", ")}] of ${dataTypeInfo(dataType).name} need ${expected}`,
      );
    }
    return new Tensor(dataType, dims, { kind: "bytes", bytes }, init);
  }

  /** A tensor from element values (numbers, or bigints for 64-bit integers); the values are encoded. */
  static fromArray(
    dataType: DataType,
    dims: readonly number[],
    values: ArrayLike<number> | ArrayLike<bigint>,
    init: TensorInit = {},
  ): Tensor {
    checkDims(dims, init.name);
    const count = elementCount(dims);
    const perElement = dataType === DataType.COMPLEX64 || dataType === DataType.COMPLEX128 ? 2 : 1;
    if (values.length !== count * perElement) {
      throw errors.irMisuse(
        `tensor "${init.name ?? ""}": ${values.length} values for dims [${dims.join(", ")}] (${count * perElement} expected)`,
      );
    }
    return new Tensor(
      dataType,
      dims,
      { kind: "bytes", bytes: encodeElements(dataType, values) },
      init,
    );
  }

  static fromStrings(
    dims: readonly number[],
    values: readonly (string | Uint8Array)[],
    init: TensorInit = {},
  ): Tensor {
    checkDims(dims, init.name);
    if (values.length !== elementCount(dims)) {
      throw errors.tensorSizeMismatch(
        "tensor",
        init.name ?? "",
        `${values.length} strings, but dims [${dims.join(", ")}] need ${elementCount(dims)}`,
      );
    }
    const encoder = new TextEncoder();
    const strings = values.map((s) => (typeof s === "string" ? encoder.encode(s) : s));
    return new Tensor(DataType.STRING, dims, { kind: "strings", strings }, init);
  }

  /** A tensor whose bytes stay in an external-data file until first use. */
  static fromExternal(
    dataType: DataType,
    dims: readonly number[],
    ref: ExternalDataRef,
    read: ExternalReader,
    init: TensorInit = {},
  ): Tensor {
    checkDims(dims, init.name);
    const expected = byteLength(dataType, elementCount(dims));
    if (ref.length !== expected) {
      throw errors.tensorSizeMismatch(
        ref.path,
        init.name ?? "",
        `external data has ${ref.length} bytes, but dims [${dims.join(", ")}] of ${dataTypeInfo(dataType).name} need ${expected}`,
      );
    }
    return new Tensor(dataType, dims, { kind: "external", ref, read }, init);
  }

  get elementCount(): number {
    return elementCount(this.dims);
  }

  /** Bytes of the data (for strings: the sum of their UTF-8 lengths), known without loading. */
  get byteLength(): number {
    const storage = this.#storage;
    if (storage.kind === "strings") return storage.strings.reduce((sum, s) => sum + s.length, 0);
    return byteLength(this.dataType, this.elementCount);
  }

  /** The external-data reference this tensor was loaded from, if any. */
  get external(): ExternalDataRef | undefined {
    return this.#storage.kind === "external" ? this.#storage.ref : undefined;
  }

  /** False while an external tensor's bytes have not been read. */
  get isLoaded(): boolean {
    const storage = this.#storage;
    return storage.kind !== "external" || storage.cached !== undefined;
  }

  /** Raw little-endian bytes (ONNX `raw_data` layout). Reads external data on first call. */
  bytes(): Uint8Array {
    const storage = this.#storage;
    switch (storage.kind) {
      case "bytes":
        return storage.bytes;
      case "strings":
        throw errors.irMisuse(`tensor "${this.name}" holds strings; use strings()`);
      case "external":
        storage.cached ??= storage.read(storage.ref);
        return storage.cached;
    }
  }

  /** The raw bytes without keeping them cached: for streaming an external tensor elsewhere. */
  readBytesOnce(): Uint8Array {
    const storage = this.#storage;
    if (storage.kind === "external" && storage.cached === undefined)
      return storage.read(storage.ref);
    return this.bytes();
  }

  /** @internal After a save moved this tensor's external bytes, read them from the new place. */
  _relocate(ref: ExternalDataRef): void {
    const storage = this.#storage;
    if (storage.kind === "external") this.#storage = { kind: "external", ref, read: storage.read };
  }

  /** Forgets the cached bytes of an external tensor; they are read again when needed. */
  release(): void {
    if (this.#storage.kind === "external") this.#storage.cached = undefined;
  }

  /**
   * The elements as a typed array (see `decodeElements` for each dtype). For native types this is
   * a view of the tensor's bytes when they are aligned: copy it before writing to it.
   */
  toArray(): ElementArray {
    return decodeElements(this.dataType, this.bytes(), this.elementCount);
  }

  /** The elements of a STRING tensor as UTF-8 bytes. */
  strings(): readonly Uint8Array[] {
    const storage = this.#storage;
    if (storage.kind !== "strings")
      throw errors.irMisuse(`tensor "${this.name}" is not a string tensor`);
    return storage.strings;
  }

  /** The elements of a STRING tensor decoded as text. */
  toStrings(): string[] {
    const decoder = new TextDecoder();
    return this.strings().map((s) => decoder.decode(s));
  }

  /** The single element of a one-element numeric tensor, as a number. */
  scalar(): number {
    if (this.elementCount !== 1) {
      throw errors.irMisuse(`tensor "${this.name}" has ${this.elementCount} elements, not one`);
    }
    return Number(this.toArray()[0]);
  }
}

export function elementCount(dims: readonly number[]): number {
  let count = 1;
  for (const d of dims) count *= d;
  return count;
}

function checkDims(dims: readonly number[], name: string | undefined): void {
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw errors.tensorSizeMismatch("tensor", name ?? "", `invalid dims [${dims.join(", ")}]`);
    }
  }
}
