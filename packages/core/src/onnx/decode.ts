import { errors } from "../diagnostics.js";
import {
  type Attribute,
  type AttributeRef,
  AttributeType,
  type AttrString,
  type Int64,
} from "../ir/attribute.js";
import { byteLength, DataType, dataTypeInfo } from "../ir/dtype.js";
import { OnnxFunction } from "../ir/function.js";
import { Graph } from "../ir/graph.js";
import { Model } from "../ir/model.js";
import { Node } from "../ir/node.js";
import { SparseTensor } from "../ir/sparse-tensor.js";
import { type ExternalReader, elementCount, Tensor } from "../ir/tensor.js";
import type { Dim, Shape, ValueType } from "../ir/types.js";
import { Value } from "../ir/value.js";
import type { ExternalDataEntries, ExternalDataResolver } from "./external-data.js";
import {
  type AttributeProto,
  type FunctionProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type SparseTensorProto,
  type StringStringEntryProto,
  type TensorProto,
  TensorProto_DataLocation,
  type TensorShapeProto,
  type TypeProto,
  type ValueInfoProto,
} from "./generated/onnx_pb.js";

export interface DecodeContext {
  /** The model's path (or a label), used in every error message. */
  readonly file: string;
  /** Resolves external-data references; absent when decoding bytes with no folder. */
  readonly external: ExternalDataResolver | undefined;
  readonly readExternal: ExternalReader;
}

/** Converts a decoded ModelProto into the IR. */
export function modelFromProto(proto: ModelProto, ctx: DecodeContext): Model {
  if (!proto.graph) throw errors.notOnnx(ctx.file, "it has no graph");
  const model = new Model({
    irVersion: toSafeNumber(proto.irVersion, ctx.file, "ir_version"),
    opsetImports: proto.opsetImport.map((o) => [
      o.domain === "ai.onnx" ? "" : o.domain,
      Number(o.version),
    ]),
    producerName: proto.producerName,
    producerVersion: proto.producerVersion,
  });
  model.domain = proto.domain;
  model.modelVersion = toSafeNumber(proto.modelVersion, ctx.file, "model_version");
  model.docString = proto.docString;
  setProps(model.metadataProps, proto.metadataProps);
  model.trainingInfo = proto.trainingInfo;
  model.configuration = proto.configuration;
  for (const fp of proto.functions) {
    const fn = functionFromProto(fp, ctx);
    model.functions.set(fn.key, fn);
  }
  model.graph = graphFromProto(proto.graph, undefined, ctx);
  return model;
}

/** Names visible in a graph: its own values, then those of enclosing graphs. */
class Scope {
  readonly names = new Map<string, Value>();
  constructor(
    readonly parent: Scope | undefined,
    readonly where: string,
  ) {}

  lookup(name: string): Value | undefined {
    for (let s: Scope | undefined = this; s; s = s.parent) {
      const v = s.names.get(name);
      if (v) return v;
    }
    return undefined;
  }

  define(value: Value, ctx: DecodeContext): void {
    const existing = this.names.get(value.name);
    // ONNX allows an initializer to share its name with a graph input (a default value).
    if (existing && existing !== value) {
      throw errors.invalidModel(
        ctx.file,
        `${this.where}: the name "${value.name}" is defined twice`,
        "every value in a graph must have a unique name (static single assignment)",
      );
    }
    this.names.set(value.name, value);
  }
}

function graphFromProto(proto: GraphProto, parent: Scope | undefined, ctx: DecodeContext): Graph {
  const where = `graph "${proto.name}"`;
  const scope = new Scope(parent, where);
  const graph = new Graph({ name: proto.name, docString: proto.docString });
  setProps(graph.metadataProps, proto.metadataProps);

  for (const vi of proto.input) {
    const value = new Value(vi.name);
    annotate(value, vi, ctx, () => `input "${vi.name}" of ${where}`);
    scope.define(value, ctx);
    graph.inputs.push(value);
  }
  for (const tp of proto.initializer) {
    const tensor = tensorFromProto(tp, ctx);
    const value = scope.names.get(tp.name) ?? new Value(tp.name);
    value.constValue = tensor;
    scope.define(value, ctx);
    graph.initializers.set(tp.name, value);
  }
  for (const sp of proto.sparseInitializer) {
    const sparse = sparseFromProto(sp, ctx);
    const value = scope.names.get(sparse.name) ?? new Value(sparse.name);
    value.constValue = sparse;
    scope.define(value, ctx);
    graph.initializers.set(sparse.name, value);
  }
  decodeNodes(proto.node, graph, scope, ctx);
  for (const vi of proto.valueInfo) {
    const value = scope.lookup(vi.name);
    if (!value) continue; // value_info for a name nothing defines carries no information
    annotate(value, vi, ctx, () => describeValue(value, where));
  }
  for (const vi of proto.output) {
    const value = scope.lookup(vi.name);
    if (!value) {
      throw errors.invalidModel(
        ctx.file,
        `${where}: output "${vi.name}" is not computed by any node`,
      );
    }
    annotate(value, vi, ctx, () => describeValue(value, where));
    graph.outputs.push(value);
  }
  for (const qa of proto.quantizationAnnotation) {
    graph.quantizationAnnotations.push({
      tensorName: qa.tensorName,
      quantParameterTensorNames: qa.quantParameterTensorNames.map((e) => [e.key, e.value]),
    });
  }
  return graph;
}

/**
 * Creates every node and its outputs before wiring any input: files may list nodes out of
 * order, and a subgraph may read any value of the graphs around it.
 */
function decodeNodes(
  protos: readonly NodeProto[],
  graph: Graph,
  scope: Scope,
  ctx: DecodeContext,
): void {
  const nodes = protos.map((np) => {
    const node = new Node({
      opType: np.opType,
      domain: np.domain,
      name: np.name,
      overload: np.overload,
      docString: np.docString,
      outputs: np.output,
    });
    setProps(node.metadataProps, np.metadataProps);
    for (const out of node.outputs) if (out.name !== "") scope.define(out, ctx);
    return node;
  });
  protos.forEach((np, i) => {
    const node = nodes[i]!;
    for (const ap of np.attribute) node.setAttribute(attributeFromProto(ap, scope, ctx));
    wireInputs(node, np, scope, ctx);
    graph.append(node);
  });
}

function wireInputs(node: Node, np: NodeProto, scope: Scope, ctx: DecodeContext): void {
  for (const name of np.input) {
    if (name === "") {
      node.appendInput(undefined);
      continue;
    }
    const value = scope.lookup(name);
    if (!value) {
      throw errors.invalidModel(
        ctx.file,
        `node "${np.name}" (${np.opType}) in ${scope.where} reads "${name}", which no node, graph input or initializer defines (in this graph or an enclosing one)`,
      );
    }
    node.appendInput(value);
  }
}

function functionFromProto(proto: FunctionProto, ctx: DecodeContext): OnnxFunction {
  const fn = new OnnxFunction({
    domain: proto.domain,
    name: proto.name,
    overload: proto.overload,
    attributes: [...proto.attribute],
    opsetImports: proto.opsetImport.map((o) => [
      o.domain === "ai.onnx" ? "" : o.domain,
      Number(o.version),
    ]),
    docString: proto.docString,
  });
  setProps(fn.metadataProps, proto.metadataProps);
  const where = `function "${proto.domain}::${proto.name}"`;
  const scope = new Scope(undefined, where);
  for (const name of proto.input) {
    const value = new Value(name);
    scope.define(value, ctx);
    fn.graph.inputs.push(value);
  }
  decodeNodes(proto.node, fn.graph, scope, ctx);
  for (const ap of proto.attributeProto) {
    const a = attributeFromProto(ap, scope, ctx);
    if ("refAttrName" in a)
      throw errors.invalidModel(ctx.file, `${where}: a default attribute cannot be a reference`);
    fn.attributeDefaults.push(a);
  }
  for (const vi of proto.valueInfo) {
    const value = scope.lookup(vi.name);
    if (value) annotate(value, vi, ctx, () => describeValue(value, where));
  }
  for (const name of proto.output) {
    const value = scope.lookup(name);
    if (!value)
      throw errors.invalidModel(ctx.file, `${where}: output "${name}" is not computed by any node`);
    fn.graph.outputs.push(value);
  }
  return fn;
}

function attributeFromProto(
  ap: AttributeProto,
  scope: Scope,
  ctx: DecodeContext,
): Attribute | AttributeRef {
  const type =
    (ap.type as number) === 0 ? inferAttributeType(ap) : (ap.type as number as AttributeType);
  const base = ap.docString === "" ? { name: ap.name } : { name: ap.name, docString: ap.docString };
  if (ap.refAttrName !== "") return { ...base, type, refAttrName: ap.refAttrName };
  switch (type) {
    case AttributeType.FLOAT:
      return { ...base, type, value: ap.f };
    case AttributeType.INT:
      return { ...base, type, value: toInt64(ap.i) };
    case AttributeType.STRING:
      return { ...base, type, value: attrString(ap.s) };
    case AttributeType.TENSOR:
      if (!ap.t) throw badAttribute(ap, ctx, "has no tensor");
      return { ...base, type, value: tensorFromProto(ap.t, ctx) };
    case AttributeType.GRAPH:
      if (!ap.g) throw badAttribute(ap, ctx, "has no graph");
      return { ...base, type, value: graphFromProto(ap.g, scope, ctx) };
    case AttributeType.SPARSE_TENSOR:
      if (!ap.sparseTensor) throw badAttribute(ap, ctx, "has no sparse tensor");
      return { ...base, type, value: sparseFromProto(ap.sparseTensor, ctx) };
    case AttributeType.TYPE_PROTO:
      return { ...base, type, value: attributeType(ap, ap.tp, ctx) };
    case AttributeType.FLOATS:
      return { ...base, type, value: [...ap.floats] };
    case AttributeType.INTS:
      return { ...base, type, value: ap.ints.map(toInt64) };
    case AttributeType.STRINGS:
      return { ...base, type, value: ap.strings.map(attrString) };
    case AttributeType.TENSORS:
      return { ...base, type, value: ap.tensors.map((t) => tensorFromProto(t, ctx)) };
    case AttributeType.GRAPHS:
      return { ...base, type, value: ap.graphs.map((g) => graphFromProto(g, scope, ctx)) };
    case AttributeType.SPARSE_TENSORS:
      return { ...base, type, value: ap.sparseTensors.map((s) => sparseFromProto(s, ctx)) };
    case AttributeType.TYPE_PROTOS:
      return { ...base, type, value: ap.typeProtos.map((t) => attributeType(ap, t, ctx)) };
    default:
      throw badAttribute(ap, ctx, `has an unknown type ${type}`);
  }
}

/** IR version 1 files have no attribute type; infer it from the field that is set. */
function inferAttributeType(ap: AttributeProto): AttributeType {
  if (ap.floats.length) return AttributeType.FLOATS;
  if (ap.ints.length) return AttributeType.INTS;
  if (ap.strings.length) return AttributeType.STRINGS;
  if (ap.tensors.length) return AttributeType.TENSORS;
  if (ap.graphs.length) return AttributeType.GRAPHS;
  if (ap.t) return AttributeType.TENSOR;
  if (ap.g) return AttributeType.GRAPH;
  if (Object.hasOwn(ap, "s")) return AttributeType.STRING;
  if (Object.hasOwn(ap, "i")) return AttributeType.INT;
  if (Object.hasOwn(ap, "f")) return AttributeType.FLOAT;
  return AttributeType.UNDEFINED;
}

/** A type held by an attribute must say what it is: unlike a value's type, it has no producer. */
function attributeType(
  ap: AttributeProto,
  tp: TypeProto | undefined,
  ctx: DecodeContext,
): ValueType {
  const type = tp && typeFromProto(tp, ctx, () => `attribute "${ap.name}"`);
  if (!type) throw badAttribute(ap, ctx, "has no type (tensor, sequence, map, optional)");
  return type;
}

function badAttribute(ap: AttributeProto, ctx: DecodeContext, detail: string) {
  return errors.invalidModel(ctx.file, `attribute "${ap.name}" ${detail}`);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function attrString(bytes: Uint8Array): AttrString {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return bytes;
  }
}

export function tensorFromProto(tp: TensorProto, ctx: DecodeContext): Tensor {
  const where = ctx.file;
  let dataType: DataType;
  try {
    dataType = dataTypeInfo(tp.dataType).type;
  } catch {
    throw errors.unsupportedDataType(`${where}: tensor "${tp.name}"`, tp.dataType);
  }
  if (dataType === DataType.UNDEFINED) {
    throw errors.invalidModel(
      where,
      `tensor "${tp.name}" has no data type (data_type is 0, UNDEFINED)`,
    );
  }
  const dims = tp.dims.map((d) => {
    const n = Number(d);
    if (!Number.isSafeInteger(n) || n < 0) {
      throw errors.tensorSizeMismatch(where, tp.name, `invalid dims [${tp.dims.join(", ")}]`);
    }
    return n;
  });
  const init = {
    name: tp.name,
    docString: tp.docString,
    metadataProps: tp.metadataProps.map((e): [string, string] => [e.key, e.value]),
  };
  if (dataType === DataType.STRING) {
    if (tp.stringData.length !== elementCount(dims)) {
      throw errors.tensorSizeMismatch(
        where,
        tp.name,
        `${tp.stringData.length} strings, but dims [${dims.join(", ")}] need ${elementCount(dims)}`,
      );
    }
    return Tensor.fromStrings(dims, tp.stringData, init);
  }
  if (tp.dataLocation === TensorProto_DataLocation.EXTERNAL) {
    if (!ctx.external) {
      throw errors.externalDataInvalid(
        where,
        tp.name,
        "external data needs the model's folder; load the model from its path",
      );
    }
    const entries: ExternalDataEntries = {};
    for (const e of tp.externalData) (entries as Record<string, string>)[e.key] = e.value;
    const expected = byteLength(dataType, elementCount(dims));
    const ref = ctx.external.resolve(tp.name, entries, expected);
    return Tensor.fromExternal(dataType, dims, ref, ctx.readExternal, init);
  }
  const bytes = tp.rawData.length > 0 ? tp.rawData : typedFieldBytes(tp, dataType, dims, where);
  try {
    return Tensor.fromBytes(dataType, dims, bytes, init);
  } catch (error) {
    throw errors.tensorSizeMismatch(
      where,
      tp.name,
      (error as Error).message.replace(/^tensor "[^"]*": /, ""),
    );
  }
}

/** Converts the typed `*_data` fields into raw little-endian bytes. */
function typedFieldBytes(
  tp: TensorProto,
  dataType: DataType,
  dims: number[],
  where: string,
): Uint8Array {
  const count = elementCount(dims);
  const mismatch = (field: string, got: number, want: number) =>
    errors.tensorSizeMismatch(
      where,
      tp.name,
      `${field} has ${got} values, but dims [${dims.join(", ")}] need ${want}`,
    );
  const take = <T extends ArrayLike<unknown>>(field: string, values: T, want: number): T => {
    if (values.length !== want) throw mismatch(field, values.length, want);
    return values;
  };
  const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  switch (dataType) {
    case DataType.FLOAT:
      return bytesOf(Float32Array.from(take("float_data", tp.floatData, count)));
    case DataType.COMPLEX64:
      return bytesOf(Float32Array.from(take("float_data", tp.floatData, 2 * count)));
    case DataType.DOUBLE:
      return bytesOf(Float64Array.from(take("double_data", tp.doubleData, count)));
    case DataType.COMPLEX128:
      return bytesOf(Float64Array.from(take("double_data", tp.doubleData, 2 * count)));
    case DataType.INT64:
      return bytesOf(BigInt64Array.from(take("int64_data", tp.int64Data, count)));
    case DataType.UINT64:
      return bytesOf(BigUint64Array.from(take("uint64_data", tp.uint64Data, count), BigInt));
    case DataType.UINT32:
      return bytesOf(Uint32Array.from(take("uint64_data", tp.uint64Data, count), Number));
    case DataType.INT32:
      return bytesOf(Int32Array.from(take("int32_data", tp.int32Data, count)));
    case DataType.INT16:
      return bytesOf(Int16Array.from(take("int32_data", tp.int32Data, count)));
    case DataType.UINT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return bytesOf(Uint16Array.from(take("int32_data", tp.int32Data, count)));
    case DataType.INT8:
      return bytesOf(Int8Array.from(take("int32_data", tp.int32Data, count)));
    default: {
      // 8-bit and smaller types: one int32 per stored byte (4-bit types pack two elements per
      // byte, 2-bit types four).
      const want = byteLength(dataType, count);
      return Uint8Array.from(take("int32_data", tp.int32Data, want));
    }
  }
}

function sparseFromProto(sp: SparseTensorProto, ctx: DecodeContext): SparseTensor {
  if (!sp.values) throw errors.invalidModel(ctx.file, "a sparse tensor has no values");
  return new SparseTensor(
    tensorFromProto(sp.values, ctx),
    sp.indices ? tensorFromProto(sp.indices, ctx) : undefined,
    sp.dims.map(Number),
  );
}

/** `value "h" (output 0 of node "n" (Relu)) in graph "g"`: where a value's type error is. */
function describeValue(value: Value, where: string): string {
  const producer = value.producer();
  const by = producer
    ? ` (output ${value.outputIndex} of node "${producer.name}" (${producer.opType}))`
    : "";
  return `value "${value.name}"${by} in ${where}`;
}

function annotate(value: Value, vi: ValueInfoProto, ctx: DecodeContext, where: () => string): void {
  // An absent or empty TypeProto means "type unknown": the ONNX checker and ONNX Runtime accept
  // it (exporters write it on If-branch outputs), and shape inference can fill it in.
  if (vi.type) value.type = typeFromProto(vi.type, ctx, where);
  if (vi.docString !== "") value.docString = vi.docString;
  setProps(value.metadataProps, vi.metadataProps);
}

/**
 * A TypeProto as a ValueType; `undefined` when it names no kind (an empty TypeProto means the
 * type is unknown). `where` names the value, node and graph for the errors a truly malformed
 * type gets.
 */
export function typeFromProto(
  tp: TypeProto,
  ctx: DecodeContext,
  where: () => string = () => "a value",
): ValueType | undefined {
  const denotation = tp.denotation === "" ? {} : { denotation: tp.denotation };
  const v = tp.value;
  const inner = (t: TypeProto | undefined) => (t ? typeFromProto(t, ctx, where) : undefined);
  switch (v.case) {
    case "tensorType":
      return {
        kind: "tensor",
        elemType: elementType(v.value.elemType, ctx, where),
        ...shapeOf(v.value.shape),
        ...denotation,
      };
    case "sparseTensorType":
      return {
        kind: "sparse_tensor",
        elemType: elementType(v.value.elemType, ctx, where),
        ...shapeOf(v.value.shape),
        ...denotation,
      };
    case "sequenceType": {
      const elemType = inner(v.value.elemType);
      return elemType
        ? { kind: "sequence", elemType, ...denotation }
        : { kind: "sequence", ...denotation };
    }
    case "optionalType": {
      const elemType = inner(v.value.elemType);
      return elemType
        ? { kind: "optional", elemType, ...denotation }
        : { kind: "optional", ...denotation };
    }
    case "mapType": {
      const keyType = elementType(v.value.keyType, ctx, where);
      const valueType = inner(v.value.valueType);
      return valueType
        ? { kind: "map", keyType, valueType, ...denotation }
        : { kind: "map", keyType, ...denotation };
    }
    default:
      return undefined;
  }
}

/** An element type number, refused (naming the value) when ONNX does not define it. */
function elementType(type: number, ctx: DecodeContext, where: () => string): DataType {
  try {
    return dataTypeInfo(type).type;
  } catch {
    throw errors.invalidModel(
      ctx.file,
      `${where()} has element type ${type}, which ONNX does not define`,
      "re-export the model, or check that the file was written by an ONNX tool",
    );
  }
}

function shapeOf(shape: TensorShapeProto | undefined): { shape?: Shape } {
  if (!shape) return {};
  const dims: Dim[] = shape.dim.map((d) => {
    if (d.value.case === "dimValue") return toInt64AsNumber(d.value.value);
    if (d.value.case === "dimParam") return d.value.value;
    return null;
  });
  const denotations = shape.dim.map((d) => (d.denotation === "" ? undefined : d.denotation));
  return denotations.some((d) => d !== undefined)
    ? { shape: { dims, denotations } }
    : { shape: { dims } };
}

function setProps(target: Map<string, string>, entries: readonly StringStringEntryProto[]): void {
  for (const e of entries) target.set(e.key, e.value);
}

function toInt64(v: bigint): Int64 {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
}

function toInt64AsNumber(v: bigint): number {
  return Number(v);
}

function toSafeNumber(v: bigint, file: string, field: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw errors.invalidModel(file, `${field} ${v} is out of range`);
  return n;
}
