import type { DescField, DescMessage, Message } from "@bufbuild/protobuf";
import { ScalarType } from "@bufbuild/protobuf";

/**
 * Protobuf encoding that never builds the whole message in memory.
 *
 * A library's one-shot encode copies every weight into one growing buffer (2–3.5× the model
 * in peak memory, and protobuf libraries misbehave past 1 GiB). Here sizes are computed first,
 * then the message is emitted in order: small fields into a reusable buffer, large `bytes`
 * fields passed through as the views they already are. The bytes are the canonical encoding
 * (fields in declaration order), the same a library would produce.
 */

/** Where encoded bytes go. `write` must finish with `bytes` before returning (it may be reused). */
export interface ByteSink {
  write(bytes: Uint8Array): void;
}

/** Encodes `message` into one exactly sized array (for small models and tests). */
export function encodeToArray<T extends Message>(desc: DescMessage, message: T): Uint8Array {
  const sizes = new Map<object, number>();
  const total = messageSize(desc, message, sizes);
  const out = new Uint8Array(total);
  let offset = 0;
  const writer = new BufferedWriter({
    write(bytes) {
      out.set(bytes, offset);
      offset += bytes.length;
    },
  });
  writeMessage(desc, message, sizes, writer);
  writer.flush();
  return out;
}

/** Encodes `message` into `sink` in order; returns the number of bytes written. */
export function encodeToSink<T extends Message>(
  desc: DescMessage,
  message: T,
  sink: ByteSink,
): number {
  const sizes = new Map<object, number>();
  const total = messageSize(desc, message, sizes);
  const writer = new BufferedWriter(sink);
  writeMessage(desc, message, sizes, writer);
  writer.flush();
  return total;
}

/** The encoded size of `message` in bytes, without encoding it. */
export function encodedSize<T extends Message>(desc: DescMessage, message: T): number {
  return messageSize(desc, message, new Map());
}

/** Byte fields at least this long bypass the buffer and go to the sink as they are. */
const PASS_THROUGH_BYTES = 64 * 1024;
const BUFFER_BYTES = 1 << 20;

enum Wire {
  Varint = 0,
  Fixed64 = 1,
  Delimited = 2,
  Fixed32 = 5,
}

interface FieldPlan {
  readonly field: DescField;
  readonly name: string;
  readonly oneof: string | undefined;
  readonly number: number;
  readonly kind: "scalar" | "enum" | "message" | "list-scalar" | "list-enum" | "list-message";
  readonly scalar: ScalarType;
  readonly packed: boolean;
  readonly message: DescMessage | undefined;
  readonly explicitPresence: boolean;
}

const plans = new Map<DescMessage, FieldPlan[]>();

function planOf(desc: DescMessage): FieldPlan[] {
  let plan = plans.get(desc);
  if (plan) return plan;
  plan = [...desc.fields]
    .sort((a, b) => a.number - b.number)
    .map((field) => {
      if (field.fieldKind === "map")
        throw new Error(`map fields are not supported (${field.name})`);
      const kind =
        field.fieldKind === "list" ? (`list-${field.listKind}` as const) : field.fieldKind;
      return {
        field,
        name: field.localName,
        oneof: field.oneof?.localName,
        number: field.number,
        kind,
        scalar:
          field.fieldKind === "scalar" ||
          (field.fieldKind === "list" && field.listKind === "scalar")
            ? field.scalar
            : ScalarType.INT32,
        packed: field.fieldKind === "list" && field.packed,
        message:
          field.fieldKind === "message" ||
          (field.fieldKind === "list" && field.listKind === "message")
            ? field.message
            : undefined,
        explicitPresence: field.presence !== 2 /* IMPLICIT */,
      };
    });
  plans.set(desc, plan);
  return plan;
}

/** The value of a set field, or undefined when the field is not set. */
function fieldValue(message: Record<string, unknown>, plan: FieldPlan): unknown {
  if (plan.oneof !== undefined) {
    const group = message[plan.oneof] as { case?: string; value?: unknown } | undefined;
    return group?.case === plan.name ? group.value : undefined;
  }
  const value = message[plan.name];
  if (value === undefined) return undefined;
  switch (plan.kind) {
    case "list-scalar":
    case "list-enum":
    case "list-message":
      return (value as unknown[]).length > 0 ? value : undefined;
    case "message":
      return value;
    default:
      if (plan.explicitPresence) return Object.hasOwn(message, plan.name) ? value : undefined;
      return value === 0 || value === "" || value === false || value === 0n ? undefined : value;
  }
}

function messageSize(desc: DescMessage, message: Message, sizes: Map<object, number>): number {
  const fields = message as unknown as Record<string, unknown>;
  let size = 0;
  for (const plan of planOf(desc)) {
    const value = fieldValue(fields, plan);
    if (value === undefined) continue;
    const tag = varintSize(plan.number << 3);
    switch (plan.kind) {
      case "scalar":
        size += tag + scalarSize(plan.scalar, value);
        break;
      case "enum":
        size += tag + int32Size(value as number);
        break;
      case "message": {
        const inner = messageSize(plan.message!, value as Message, sizes);
        size += tag + varintSize(inner) + inner;
        break;
      }
      case "list-message":
        for (const item of value as Message[]) {
          const inner = messageSize(plan.message!, item, sizes);
          size += tag + varintSize(inner) + inner;
        }
        break;
      case "list-scalar":
      case "list-enum": {
        const items = value as unknown[];
        const scalar = plan.kind === "list-enum" ? ScalarType.INT32 : plan.scalar;
        if (plan.packed) {
          const payload = packedPayloadSize(scalar, items);
          sizes.set(items, payload);
          size += tag + varintSize(payload) + payload;
        } else {
          for (const item of items) size += tag + scalarSize(scalar, item);
        }
        break;
      }
    }
  }
  for (const unknown of message.$unknown ?? []) {
    size += varintSize((unknown.no << 3) | unknown.wireType) + unknown.data.length;
  }
  sizes.set(message, size);
  return size;
}

function writeMessage(
  desc: DescMessage,
  message: Message,
  sizes: Map<object, number>,
  w: BufferedWriter,
): void {
  const fields = message as unknown as Record<string, unknown>;
  for (const plan of planOf(desc)) {
    const value = fieldValue(fields, plan);
    if (value === undefined) continue;
    switch (plan.kind) {
      case "scalar":
        w.tag(plan.number, wireOf(plan.scalar));
        writeScalar(w, plan.scalar, value);
        break;
      case "enum":
        w.tag(plan.number, Wire.Varint);
        w.int32(value as number);
        break;
      case "message":
        w.tag(plan.number, Wire.Delimited);
        w.varint(sizes.get(value as object)!);
        writeMessage(plan.message!, value as Message, sizes, w);
        break;
      case "list-message":
        for (const item of value as Message[]) {
          w.tag(plan.number, Wire.Delimited);
          w.varint(sizes.get(item)!);
          writeMessage(plan.message!, item, sizes, w);
        }
        break;
      case "list-scalar":
      case "list-enum": {
        const items = value as unknown[];
        const scalar = plan.kind === "list-enum" ? ScalarType.INT32 : plan.scalar;
        if (plan.packed) {
          w.tag(plan.number, Wire.Delimited);
          w.varint(sizes.get(items)!);
          for (const item of items) writeScalar(w, scalar, item);
        } else {
          for (const item of items) {
            w.tag(plan.number, wireOf(scalar));
            writeScalar(w, scalar, item);
          }
        }
        break;
      }
    }
  }
  for (const unknown of message.$unknown ?? []) {
    w.tag(unknown.no, unknown.wireType);
    w.raw(unknown.data); // the encoded value, with its length prefix when it has one
  }
}

function wireOf(scalar: ScalarType): Wire {
  switch (scalar) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return Wire.Fixed64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return Wire.Fixed32;
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return Wire.Delimited;
    default:
      return Wire.Varint;
  }
}

function scalarSize(scalar: ScalarType, value: unknown): number {
  switch (scalar) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return 8;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return 4;
    case ScalarType.BOOL:
      return 1;
    case ScalarType.STRING: {
      const n = Buffer.byteLength(value as string, "utf8");
      return varintSize(n) + n;
    }
    case ScalarType.BYTES: {
      const n = (value as Uint8Array).length;
      return varintSize(n) + n;
    }
    case ScalarType.INT32:
      return int32Size(value as number);
    case ScalarType.UINT32:
      return varintSize(value as number);
    case ScalarType.INT64:
    case ScalarType.UINT64:
      return int64Size(value as bigint | number | string);
    default:
      throw new Error(`protobuf scalar type ${ScalarType[scalar]} is not used by ONNX`);
  }
}

function packedPayloadSize(scalar: ScalarType, items: unknown[]): number {
  switch (scalar) {
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return 4 * items.length;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return 8 * items.length;
    default: {
      let size = 0;
      for (const item of items) size += scalarSize(scalar, item);
      return size;
    }
  }
}

function writeScalar(w: BufferedWriter, scalar: ScalarType, value: unknown): void {
  switch (scalar) {
    case ScalarType.DOUBLE:
      w.double(value as number);
      return;
    case ScalarType.FLOAT:
      w.float(value as number);
      return;
    case ScalarType.BOOL:
      w.varint(value ? 1 : 0);
      return;
    case ScalarType.STRING:
      w.string(value as string);
      return;
    case ScalarType.BYTES:
      w.bytes(value as Uint8Array);
      return;
    case ScalarType.INT32:
      w.int32(value as number);
      return;
    case ScalarType.UINT32:
      w.varint(value as number);
      return;
    case ScalarType.INT64:
    case ScalarType.UINT64:
      w.int64(value as bigint | number | string);
      return;
    default:
      throw new Error(`protobuf scalar type ${ScalarType[scalar]} is not used by ONNX`);
  }
}

function varintSize(n: number): number {
  // n is a non-negative integer below 2^53.
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function int32Size(n: number): number {
  return n < 0 ? 10 : varintSize(n);
}

function int64Size(value: bigint | number | string): number {
  if (typeof value === "number" && value >= 0) return varintSize(value);
  let v = BigInt.asUintN(64, BigInt(value));
  let size = 1;
  while (v >= 128n) {
    v >>= 7n;
    size++;
  }
  return size;
}

/** Accumulates small writes in one reused buffer and passes large byte fields straight through. */
class BufferedWriter {
  readonly #sink: ByteSink;
  #buf = Buffer.allocUnsafe(BUFFER_BYTES);
  #view = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.byteLength);
  #pos = 0;

  constructor(sink: ByteSink) {
    this.#sink = sink;
  }

  flush(): void {
    if (this.#pos > 0) this.#sink.write(this.#buf.subarray(0, this.#pos));
    this.#pos = 0;
  }

  #reserve(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    this.flush();
    if (n > this.#buf.length) {
      this.#buf = Buffer.allocUnsafe(n);
      this.#view = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.byteLength);
    }
  }

  tag(fieldNumber: number, wire: number): void {
    this.varint(fieldNumber * 8 + wire);
  }

  varint(n: number): void {
    this.#reserve(10);
    const buf = this.#buf;
    let pos = this.#pos;
    while (n >= 128) {
      buf[pos++] = (n % 128) | 128;
      n = Math.floor(n / 128);
    }
    buf[pos++] = n;
    this.#pos = pos;
  }

  int32(n: number): void {
    if (n >= 0) this.varint(n);
    else this.int64(n);
  }

  int64(value: bigint | number | string): void {
    if (typeof value === "number" && value >= 0) {
      this.varint(value);
      return;
    }
    this.#reserve(10);
    let v = BigInt.asUintN(64, BigInt(value));
    const buf = this.#buf;
    let pos = this.#pos;
    while (v >= 128n) {
      buf[pos++] = Number(v & 127n) | 128;
      v >>= 7n;
    }
    buf[pos++] = Number(v);
    this.#pos = pos;
  }

  float(x: number): void {
    this.#reserve(4);
    this.#view.setFloat32(this.#pos, x, true);
    this.#pos += 4;
  }

  double(x: number): void {
    this.#reserve(8);
    this.#view.setFloat64(this.#pos, x, true);
    this.#pos += 8;
  }

  string(s: string): void {
    const n = Buffer.byteLength(s, "utf8");
    this.varint(n);
    this.#reserve(n);
    this.#buf.write(s, this.#pos, "utf8");
    this.#pos += n;
  }

  bytes(data: Uint8Array): void {
    this.varint(data.length);
    this.raw(data);
  }

  /** Bytes as they are, with no length prefix. */
  raw(data: Uint8Array): void {
    if (data.length >= PASS_THROUGH_BYTES) {
      this.flush();
      this.#sink.write(data);
      return;
    }
    this.#reserve(data.length);
    this.#buf.set(data, this.#pos);
    this.#pos += data.length;
  }
}
