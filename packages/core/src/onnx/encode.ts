import { create } from "@bufbuild/protobuf";
import { errors } from "../diagnostics.js";
import {
  type Attribute,
  type AttributeRef,
  AttributeType,
  type AttrString,
  isAttributeRef,
} from "../ir/attribute.js";
import { DataType } from "../ir/dtype.js";
import type { OnnxFunction } from "../ir/function.js";
import type { Graph } from "../ir/graph.js";
import type { Model } from "../ir/model.js";
import type { Node } from "../ir/node.js";
import type { SparseTensor } from "../ir/sparse-tensor.js";
import type { Tensor } from "../ir/tensor.js";
import type { Shape, ValueType } from "../ir/types.js";
import type { Value } from "../ir/value.js";
import {
  type AttributeProto,
  AttributeProtoSchema,
  type FunctionProto,
  FunctionProtoSchema,
  type GraphProto,
  GraphProtoSchema,
  type ModelProto,
  ModelProtoSchema,
  type NodeProto,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  type SparseTensorProto,
  SparseTensorProtoSchema,
  type StringStringEntryProto,
  StringStringEntryProtoSchema,
  TensorAnnotationSchema,
  type TensorProto,
  TensorProto_DataLocation,
  TensorProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  type TypeProto,
  TypeProto_MapSchema,
  TypeProto_OptionalSchema,
  TypeProto_SequenceSchema,
  TypeProto_SparseTensorSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  type ValueInfoProto,
  ValueInfoProtoSchema,
} from "./generated/onnx_pb.js";

/** Where one tensor's bytes go when it is not stored inline. */
export interface ExternalPlacement {
  location: string;
  offset: number;
  length: number;
}

export interface EncodeOptions {
  /**
   * Decides where each tensor's data is stored: a placement writes an external-data
   * reference, undefined stores the bytes inline (read from external files if need be).
   */
  placeTensor?: (tensor: Tensor) => ExternalPlacement | undefined;
}

/** Converts the IR into a ModelProto. Tensor bytes are referenced, never copied. */
export function modelToProto(model: Model, options: EncodeOptions = {}): ModelProto {
  const enc = new Encoder(options);
  nameUnnamedValues(model);
  const proto = create(ModelProtoSchema, {
    irVersion: BigInt(model.irVersion),
    opsetImport: [...model.opsetImports].map(([domain, version]) =>
      create(OperatorSetIdProtoSchema, { domain, version: BigInt(version) }),
    ),
    graph: enc.graph(model.graph),
    metadataProps: props(model.metadataProps),
    trainingInfo: model.trainingInfo,
    functions: [...model.functions.values()].map((fn) => enc.function(fn)),
    configuration: model.configuration,
  });
  if (model.producerName !== "") proto.producerName = model.producerName;
  if (model.producerVersion !== "") proto.producerVersion = model.producerVersion;
  if (model.domain !== "") proto.domain = model.domain;
  if (model.modelVersion !== 0) proto.modelVersion = BigInt(model.modelVersion);
  if (model.docString !== "") proto.docString = model.docString;
  return proto;
}

class Encoder {
  constructor(private readonly options: EncodeOptions) {}

  /** `fallbackName` names an unnamed subgraph: ONNX Runtime requires subgraph names. */
  graph(graph: Graph, fallbackName = ""): GraphProto {
    const nodes = [...graph].map((n) => this.node(n));
    const declared = new Set<Value>([...graph.inputs, ...graph.outputs]);
    const valueInfo: ValueInfoProto[] = [];
    for (const node of graph) {
      for (const out of node.outputs) {
        if (out.type && !declared.has(out) && out.name !== "") valueInfo.push(valueInfoOf(out));
      }
    }
    const initializer: TensorProto[] = [];
    const sparseInitializer: SparseTensorProto[] = [];
    for (const [name, value] of graph.initializers) {
      const c = value.constValue;
      if (!c) throw errors.irMisuse(`initializer "${name}" has no constant value`);
      if ("values" in c) sparseInitializer.push(this.sparse(c));
      else initializer.push(this.tensor(c, name));
    }
    const proto = create(GraphProtoSchema, {
      node: nodes,
      initializer,
      sparseInitializer,
      input: graph.inputs.map(valueInfoOf),
      output: graph.outputs.map(valueInfoOf),
      valueInfo,
      quantizationAnnotation: graph.quantizationAnnotations.map((qa) =>
        create(TensorAnnotationSchema, {
          tensorName: qa.tensorName,
          quantParameterTensorNames: qa.quantParameterTensorNames.map(([key, value]) =>
            entry(key, value),
          ),
        }),
      ),
      metadataProps: props(graph.metadataProps),
    });
    const name = graph.name || fallbackName;
    if (name !== "") proto.name = name;
    if (graph.docString !== "") proto.docString = graph.docString;
    return proto;
  }

  function(fn: OnnxFunction): FunctionProto {
    // A FunctionProto lists its inputs by name only; their types, when known, go to value_info.
    const values = [...fn.graph.inputs, ...[...fn.graph].flatMap((node) => node.outputs)];
    const valueInfo = values.filter((v) => v.type && v.name).map(valueInfoOf);
    const proto = create(FunctionProtoSchema, {
      name: fn.name,
      domain: fn.domain,
      input: fn.graph.inputs.map((v) => v.name),
      output: fn.graph.outputs.map((v) => v.name),
      attribute: fn.attributes,
      attributeProto: fn.attributeDefaults.map((a) => this.attribute(a)),
      node: [...fn.graph].map((n) => this.node(n)),
      opsetImport: [...fn.opsetImports].map(([domain, version]) =>
        create(OperatorSetIdProtoSchema, { domain, version: BigInt(version) }),
      ),
      valueInfo,
      metadataProps: props(fn.metadataProps),
    });
    if (fn.overload !== "") proto.overload = fn.overload;
    if (fn.docString !== "") proto.docString = fn.docString;
    return proto;
  }

  node(node: Node): NodeProto {
    const proto = create(NodeProtoSchema, {
      input: node.inputs.map((v) => v?.name ?? ""),
      output: node.outputs.map((v) => v.name),
      opType: node.opType,
      attribute: [...node.attributes.values()].map((a) =>
        this.attribute(a, node.name || node.opType),
      ),
      metadataProps: props(node.metadataProps),
    });
    if (node.name !== "") proto.name = node.name;
    if (node.domain !== "") proto.domain = node.domain;
    if (node.overload !== "") proto.overload = node.overload;
    if (node.docString !== "") proto.docString = node.docString;
    return proto;
  }

  attribute(a: Attribute | AttributeRef, owner = ""): AttributeProto {
    const proto = create(AttributeProtoSchema, { name: a.name, type: a.type as number });
    if (a.docString) proto.docString = a.docString;
    if (isAttributeRef(a)) {
      proto.refAttrName = a.refAttrName;
      return proto;
    }
    switch (a.type) {
      case AttributeType.FLOAT:
        proto.f = a.value;
        break;
      case AttributeType.INT:
        proto.i = BigInt(a.value);
        break;
      case AttributeType.STRING:
        proto.s = attrBytes(a.value);
        break;
      case AttributeType.TENSOR:
        proto.t = this.tensor(a.value);
        break;
      case AttributeType.GRAPH:
        proto.g = this.graph(a.value, `${owner}_${a.name}`);
        break;
      case AttributeType.SPARSE_TENSOR:
        proto.sparseTensor = this.sparse(a.value);
        break;
      case AttributeType.TYPE_PROTO:
        proto.tp = typeToProto(a.value);
        break;
      case AttributeType.FLOATS:
        proto.floats = a.value;
        break;
      case AttributeType.INTS:
        proto.ints = a.value.map((v) => BigInt(v));
        break;
      case AttributeType.STRINGS:
        proto.strings = a.value.map(attrBytes);
        break;
      case AttributeType.TENSORS:
        proto.tensors = a.value.map((t) => this.tensor(t));
        break;
      case AttributeType.GRAPHS:
        proto.graphs = a.value.map((g, i) => this.graph(g, `${owner}_${a.name}_${i}`));
        break;
      case AttributeType.SPARSE_TENSORS:
        proto.sparseTensors = a.value.map((s) => this.sparse(s));
        break;
      case AttributeType.TYPE_PROTOS:
        proto.typeProtos = a.value.map(typeToProto);
        break;
    }
    return proto;
  }

  tensor(tensor: Tensor, name = tensor.name): TensorProto {
    const proto = create(TensorProtoSchema, {
      dims: tensor.dims.map((d) => BigInt(d)),
      dataType: tensor.dataType,
      metadataProps: props(tensor.metadataProps),
    });
    if (name !== "") proto.name = name;
    if (tensor.docString !== "") proto.docString = tensor.docString;
    if (tensor.dataType === DataType.STRING) {
      proto.stringData = [...tensor.strings()];
      return proto;
    }
    const placement = this.options.placeTensor?.(tensor);
    if (placement) {
      proto.dataLocation = TensorProto_DataLocation.EXTERNAL;
      proto.externalData = [
        entry("location", placement.location),
        entry("offset", String(placement.offset)),
        entry("length", String(placement.length)),
      ];
    } else if (tensor.byteLength > 0) {
      proto.rawData = tensor.bytes();
    }
    return proto;
  }

  sparse(sparse: SparseTensor): SparseTensorProto {
    return create(SparseTensorProtoSchema, {
      values: this.tensor(sparse.values),
      ...(sparse.indices ? { indices: this.tensor(sparse.indices) } : {}),
      dims: sparse.dims.map((d) => BigInt(d)),
    });
  }
}

function valueInfoOf(value: Value): ValueInfoProto {
  const proto = create(ValueInfoProtoSchema, {
    name: value.name,
    metadataProps: props(value.metadataProps),
  });
  if (value.type) proto.type = typeToProto(value.type);
  if (value.docString !== "") proto.docString = value.docString;
  return proto;
}

export function typeToProto(type: ValueType): TypeProto {
  const proto = create(TypeProtoSchema);
  if (type.denotation !== undefined) proto.denotation = type.denotation;
  switch (type.kind) {
    case "tensor":
    case "sparse_tensor": {
      const inner = {
        elemType: type.elemType,
        ...(type.shape ? { shape: shapeToProto(type.shape) } : {}),
      };
      proto.value =
        type.kind === "tensor"
          ? { case: "tensorType", value: create(TypeProto_TensorSchema, inner) }
          : { case: "sparseTensorType", value: create(TypeProto_SparseTensorSchema, inner) };
      break;
    }
    case "sequence":
      proto.value = {
        case: "sequenceType",
        value: create(
          TypeProto_SequenceSchema,
          type.elemType ? { elemType: typeToProto(type.elemType) } : {},
        ),
      };
      break;
    case "optional":
      proto.value = {
        case: "optionalType",
        value: create(
          TypeProto_OptionalSchema,
          type.elemType ? { elemType: typeToProto(type.elemType) } : {},
        ),
      };
      break;
    case "map":
      proto.value = {
        case: "mapType",
        value: create(TypeProto_MapSchema, {
          keyType: type.keyType,
          ...(type.valueType ? { valueType: typeToProto(type.valueType) } : {}),
        }),
      };
      break;
  }
  return proto;
}

function shapeToProto(shape: Shape) {
  return create(TensorShapeProtoSchema, {
    dim: shape.dims.map((d, i) => {
      const dim = create(TensorShapeProto_DimensionSchema);
      if (typeof d === "number") dim.value = { case: "dimValue", value: BigInt(d) };
      else if (typeof d === "string") dim.value = { case: "dimParam", value: d };
      const denotation = shape.denotations?.[i];
      if (denotation !== undefined) dim.denotation = denotation;
      return dim;
    }),
  });
}

function entry(key: string, value: string): StringStringEntryProto {
  return create(StringStringEntryProtoSchema, { key, value });
}

function props(map: ReadonlyMap<string, string>): StringStringEntryProto[] {
  return [...map].map(([k, v]) => entry(k, v));
}

const utf8 = new TextEncoder();

function attrBytes(value: AttrString): Uint8Array {
  return typeof value === "string" ? utf8.encode(value) : value;
}

/**
 * Gives a name to every value that is read but unnamed (built by code, not decoded), so the
 * file can refer to it. Names are unique across the model, subgraphs included.
 */
function nameUnnamedValues(model: Model): void {
  const taken = new Set<string>();
  const unnamed: Value[] = [];
  const visit = (graph: Graph) => {
    for (const v of [...graph.inputs, ...graph.initializers.values()]) taken.add(v.name);
    for (const node of graph) {
      for (const out of node.outputs) {
        if (out.name !== "") taken.add(out.name);
        else if (out.uses().length > 0 || graph.outputs.includes(out)) unnamed.push(out);
      }
      for (const sub of node.subgraphs()) visit(sub);
    }
  };
  visit(model.graph);
  for (const fn of model.functions.values()) visit(fn.graph);
  let counter = 0;
  for (const value of unnamed) {
    const producer = value.producer();
    const stem = producer?.name ? `${producer.name}_output_${value.outputIndex}` : `_v${counter++}`;
    let name = stem;
    while (taken.has(name)) name = `${stem}_${counter++}`;
    taken.add(name);
    value.name = name;
  }
}
