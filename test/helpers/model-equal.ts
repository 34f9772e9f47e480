import {
  type Attribute,
  type AttributeRef,
  AttributeType,
  DataType,
  encodeToArray,
  type Graph,
  isAttributeRef,
  type Model,
  type Node,
  type OnnxFunction,
  proto,
  SparseTensor,
  Tensor,
  type Value,
} from "@lathe/core";

/**
 * Compares two IR models structurally and lists every difference as `path: what`, empty when
 * they are equal: model fields, opsets, metadata, functions, graphs (inputs, outputs, initializers,
 * nodes in order with their attributes and subgraphs) and value types. Values are matched by
 * name and position, never by identity, so a decoded model can be compared with a re-decoded one.
 */
export function modelDifferences(a: Model, b: Model): string[] {
  const diff = new Differ();
  diff.model(a, b);
  return diff.found;
}

/** Stops collecting after this many, so one broken model cannot flood the report. */
const MAX_DIFFERENCES = 20;

class Differ {
  readonly found: string[] = [];

  model(a: Model, b: Model): void {
    for (const field of [
      "irVersion",
      "producerName",
      "producerVersion",
      "domain",
      "modelVersion",
      "docString",
    ] as const) {
      this.same(`model.${field}`, a[field], b[field]);
    }
    this.map("model.opsetImports", a.opsetImports, b.opsetImports);
    this.map("model.metadataProps", a.metadataProps, b.metadataProps);
    this.messages(
      "model.trainingInfo",
      proto.TrainingInfoProtoSchema,
      a.trainingInfo,
      b.trainingInfo,
    );
    this.messages(
      "model.configuration",
      proto.DeviceConfigurationProtoSchema,
      a.configuration,
      b.configuration,
    );
    this.same("model.functions (keys)", [...a.functions.keys()], [...b.functions.keys()]);
    for (const [key, fa] of a.functions) {
      const fb = b.functions.get(key);
      if (fb) this.function(`function ${key}`, fa, fb);
    }
    this.graph("graph", a.graph, b.graph);
  }

  function(path: string, a: OnnxFunction, b: OnnxFunction): void {
    for (const field of ["domain", "name", "overload", "docString"] as const)
      this.same(`${path}.${field}`, a[field], b[field]);
    this.same(`${path}.attributes`, a.attributes, b.attributes);
    this.list(`${path}.attributeDefaults`, a.attributeDefaults, b.attributeDefaults, (p, x, y) =>
      this.attribute(p, x, y),
    );
    this.map(`${path}.opsetImports`, a.opsetImports, b.opsetImports);
    this.map(`${path}.metadataProps`, a.metadataProps, b.metadataProps);
    this.graph(`${path}.body`, a.graph, b.graph);
  }

  graph(path: string, a: Graph, b: Graph): void {
    this.same(`${path}.name`, a.name, b.name);
    this.same(`${path}.docString`, a.docString, b.docString);
    this.map(`${path}.metadataProps`, a.metadataProps, b.metadataProps);
    this.list(`${path}.inputs`, a.inputs, b.inputs, (p, x, y) => this.value(p, x, y));
    this.list(`${path}.outputs`, a.outputs, b.outputs, (p, x, y) => this.value(p, x, y));
    this.list(
      `${path}.initializers`,
      [...a.initializers],
      [...b.initializers],
      (p, [nx, x], [ny, y]) => {
        this.same(`${p}.name`, nx, ny);
        this.constant(`${p} "${nx}"`, x.constValue, y.constValue);
      },
    );
    this.same(
      `${path}.quantizationAnnotations`,
      a.quantizationAnnotations,
      b.quantizationAnnotations,
    );
    this.list(`${path}.nodes`, a.nodes(), b.nodes(), (p, x, y) =>
      this.node(`${p} (${x.opType} "${x.name}")`, x, y),
    );
  }

  node(path: string, a: Node, b: Node): void {
    for (const field of ["opType", "domain", "name", "overload", "docString"] as const)
      this.same(`${path}.${field}`, a[field], b[field]);
    this.map(`${path}.metadataProps`, a.metadataProps, b.metadataProps);
    this.same(`${path}.inputs`, a.inputs.map(nameOf), b.inputs.map(nameOf));
    this.list(`${path}.outputs`, a.outputs, b.outputs, (p, x, y) => this.value(p, x, y));
    this.list(
      `${path}.attributes`,
      [...a.attributes.values()],
      [...b.attributes.values()],
      (p, x, y) => this.attribute(`${p} "${x.name}"`, x, y),
    );
  }

  /** A value as declared where it appears: name, type, doc, metadata, and whether it is constant. */
  value(path: string, a: Value, b: Value): void {
    this.same(`${path}.name`, a.name, b.name);
    this.same(`${path} "${a.name}".type`, a.type, b.type);
    this.same(`${path} "${a.name}".docString`, a.docString, b.docString);
    this.map(`${path} "${a.name}".metadataProps`, a.metadataProps, b.metadataProps);
    this.same(`${path} "${a.name}".isConstant`, a.isConstant, b.isConstant);
  }

  attribute(path: string, a: Attribute | AttributeRef, b: Attribute | AttributeRef): void {
    this.same(`${path}.name`, a.name, b.name);
    this.same(`${path}.type`, AttributeType[a.type], AttributeType[b.type]);
    this.same(`${path}.docString`, a.docString ?? "", b.docString ?? "");
    if (isAttributeRef(a) || isAttributeRef(b)) {
      this.same(`${path}.refAttrName`, refOf(a), refOf(b));
      return;
    }
    if (a.type !== b.type) return;
    const va: unknown = a.value;
    const vb: unknown = b.value;
    switch (a.type) {
      case AttributeType.TENSOR:
      case AttributeType.SPARSE_TENSOR:
        this.constant(`${path}.value`, va as Tensor | SparseTensor, vb as Tensor | SparseTensor);
        return;
      case AttributeType.TENSORS:
      case AttributeType.SPARSE_TENSORS:
        this.list(`${path}.value`, va as Tensor[], vb as Tensor[], (p, x, y) =>
          this.constant(p, x, y),
        );
        return;
      case AttributeType.GRAPH:
        this.graph(`${path}.value`, va as Graph, vb as Graph);
        return;
      case AttributeType.GRAPHS:
        this.list(`${path}.value`, va as Graph[], vb as Graph[], (p, x, y) => this.graph(p, x, y));
        return;
      default:
        this.same(`${path}.value`, va, vb);
    }
  }

  constant(
    path: string,
    a: Tensor | SparseTensor | undefined,
    b: Tensor | SparseTensor | undefined,
  ): void {
    if (a instanceof SparseTensor && b instanceof SparseTensor) {
      this.same(`${path}.dims`, a.dims, b.dims);
      this.tensor(`${path}.values`, a.values, b.values);
      if (a.indices && b.indices) this.tensor(`${path}.indices`, a.indices, b.indices);
      else this.same(`${path}.indices`, a.indices === undefined, b.indices === undefined);
      return;
    }
    if (a instanceof Tensor && b instanceof Tensor) {
      this.tensor(path, a, b);
      return;
    }
    this.same(`${path} (kind)`, kindOf(a), kindOf(b));
  }

  tensor(path: string, a: Tensor, b: Tensor): void {
    this.same(`${path}.name`, a.name, b.name);
    this.same(`${path}.dataType`, a.dataType, b.dataType);
    this.same(`${path}.dims`, a.dims, b.dims);
    this.same(`${path}.docString`, a.docString, b.docString);
    this.map(`${path}.metadataProps`, a.metadataProps, b.metadataProps);
    if (a.dataType !== b.dataType) return;
    if (a.dataType === DataType.STRING) this.same(`${path}.strings`, a.strings(), b.strings());
    else this.same(`${path}.bytes`, a.bytes(), b.bytes());
  }

  messages<T extends proto.TrainingInfoProto | proto.DeviceConfigurationProto>(
    path: string,
    schema: Parameters<typeof encodeToArray>[0],
    a: readonly T[],
    b: readonly T[],
  ): void {
    this.list(path, a, b, (p, x, y) =>
      this.same(p, encodeToArray(schema, x), encodeToArray(schema, y)),
    );
  }

  list<T>(
    path: string,
    a: readonly T[],
    b: readonly T[],
    each: (path: string, x: T, y: T) => void,
  ): void {
    if (a.length !== b.length) {
      this.report(`${path}: ${a.length} vs ${b.length} entries`);
      return;
    }
    a.forEach((x, i) => {
      each(`${path}[${i}]`, x, b[i] as T);
    });
  }

  map(path: string, a: ReadonlyMap<string, unknown>, b: ReadonlyMap<string, unknown>): void {
    this.same(path, [...a], [...b]);
  }

  same(path: string, a: unknown, b: unknown): void {
    if (!deepEqual(a, b)) this.report(`${path}: ${show(a)} vs ${show(b)}`);
  }

  report(difference: string): void {
    if (this.found.length < MAX_DIFFERENCES) this.found.push(difference);
  }
}

/** Equality of plain data: primitives (NaN equals NaN, -0 differs from 0), arrays, byte arrays, objects. */
function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && Buffer.compare(a, b) === 0;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((x, i) => deepEqual(x, b[i]))
    );
  }
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return (
    ka.length === kb.length &&
    ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}

function show(v: unknown): string {
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  const text = JSON.stringify(v, (_, x: unknown) =>
    typeof x === "bigint" ? `${x}n` : x instanceof Uint8Array ? `<${x.length} bytes>` : x,
  );
  return text === undefined ? String(v) : text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function nameOf(v: Value | undefined): string {
  return v?.name ?? "";
}

function refOf(a: Attribute | AttributeRef): string | undefined {
  return isAttributeRef(a) ? a.refAttrName : undefined;
}

function kindOf(c: Tensor | SparseTensor | undefined): string {
  return c === undefined ? "none" : c instanceof SparseTensor ? "sparse tensor" : "tensor";
}
