import { subgraphsOf } from "../graph/traverse.js";
import { AttributeType } from "../ir/attribute.js";
import { DataType } from "../ir/dtype.js";
import { functionKey, type OnnxFunction } from "../ir/function.js";
import type { Graph } from "../ir/graph.js";
import type { Model } from "../ir/model.js";
import type { Node } from "../ir/node.js";
import type { SparseTensor } from "../ir/sparse-tensor.js";
import type { Tensor } from "../ir/tensor.js";
import type { Value } from "../ir/value.js";
import { ortDefaultDomainSchema } from "../schemas/ort-default-domain.js";
import {
  isKnownDomain,
  onnxTypeString,
  opsOfDomain,
  schemaFor,
  schemaHistory,
} from "../schemas/registry.js";
import type { FormalParameter, OpSchema } from "../schemas/types.js";
import { closestMatch } from "../suggest.js";
import type { CheckCode, CheckFinding, CheckReport } from "./findings.js";
import { minimumIrVersion, NEWEST_KNOWN_IR_VERSION } from "./ir-version.js";

/**
 * Checks a model the way ONNX's checker and ONNX Runtime's loader would: every node's op
 * exists in its domain at the imported opset, with its required inputs, known attributes of
 * the right types and allowed input/output types; every graph (subgraphs and function bodies
 * too) is in single static assignment form with each value defined before its use (a subgraph
 * may read values of the graphs around it); initializers agree with their declared types; every
 * used domain is imported; the IR version fits the opsets. Nothing is changed.
 */
export function checkModel(model: Model): CheckReport {
  const checker = new ModelChecker(model);
  checker.checkModel();
  const findings = checker.findings;
  return {
    findings,
    errors: findings.filter((f) => f.severity === "error").length,
    warnings: findings.filter((f) => f.severity === "warning").length,
    nodesChecked: checker.nodesChecked,
    unchecked: Object.fromEntries(checker.unchecked),
  };
}

/** Values visible in a graph: its own, then (for a subgraph) those of the graphs around it. */
class Scope {
  readonly values = new Set<Value>();
  readonly names = new Map<string, Value>();
  constructor(readonly parent: Scope | undefined) {}

  has(value: Value): boolean {
    for (let s: Scope | undefined = this; s; s = s.parent) if (s.values.has(value)) return true;
    return false;
  }

  byName(name: string): Value | undefined {
    for (let s: Scope | undefined = this; s; s = s.parent) {
      const found = s.names.get(name);
      if (found) return found;
    }
    return undefined;
  }
}

interface GraphContext {
  readonly graph: Graph;
  readonly path: string;
  /** The opsets nodes of this graph resolve against. */
  readonly opsets: ReadonlyMap<string, number>;
  readonly function?: OnnxFunction;
}

/**
 * Domains whose table comes from ONNX Runtime's docs, which lag the runtime (ops gain
 * attributes, inputs and cache types between releases): what the table doubts there is a
 * warning, and loading the model in ONNX Runtime is the judge.
 */
const RUNTIME_DOMAINS = new Set(["com.microsoft"]);

/** Findings that come from comparing a node with its schema. */
const SCHEMA_CODES = new Set<CheckCode>([
  "UNKNOWN_OP",
  "INPUT_COUNT",
  "MISSING_INPUT",
  "OUTPUT_COUNT",
  "MISSING_OUTPUT",
  "UNKNOWN_ATTRIBUTE",
  "ATTRIBUTE_TYPE",
  "MISSING_ATTRIBUTE",
  "TYPE_NOT_ALLOWED",
  "TYPE_MISMATCH",
]);

const REPLACEMENTS: Record<string, string> = {
  Upsample: "use Resize",
  Scatter: "use ScatterElements",
  GroupNormalization: "GroupNormalization-21 replaced the deprecated version 18",
};

class ModelChecker {
  readonly findings: CheckFinding[] = [];
  readonly unchecked = new Map<string, number>();
  nodesChecked = 0;
  readonly #reportedImports = new Set<string>();

  constructor(readonly model: Model) {}

  checkModel(): void {
    const model = this.model;
    const opset = model.opset("");
    if (opset !== undefined && model.irVersion < minimumIrVersion(opset)) {
      this.#add(
        "IR_VERSION",
        "warning",
        { path: "main" },
        undefined,
        `IR version ${model.irVersion} is older than opset ${opset} (released with IR ${minimumIrVersion(opset)})`,
        `set the model's IR version to ${minimumIrVersion(opset)} or newer; ONNX Runtime loads it, stricter tools may not`,
      );
    }
    if (model.irVersion > NEWEST_KNOWN_IR_VERSION) {
      this.#add(
        "IR_VERSION",
        "warning",
        { path: "main" },
        undefined,
        `IR version ${model.irVersion} is newer than the ONNX this checker knows (IR ${NEWEST_KNOWN_IR_VERSION})`,
        "check the model with a newer Lathe, or re-export it for an older IR version",
      );
    }
    this.#checkGraph({ graph: model.graph, path: "main", opsets: model.opsetImports }, undefined);
    for (const fn of model.functions.values()) {
      const opsets = new Map(model.opsetImports);
      for (const [domain, version] of fn.opsetImports) opsets.set(domain, version);
      const path = `function ${fn.domain}::${fn.name}${fn.overload ? `::${fn.overload}` : ""}`;
      this.#checkGraph({ graph: fn.graph, path, opsets, function: fn }, undefined);
    }
  }

  #checkGraph(ctx: GraphContext, parent: Scope | undefined): void {
    const scope = new Scope(parent);
    const graph = ctx.graph;
    for (const input of graph.inputs) this.#define(input, scope, ctx, "graph input");
    for (const [name, value] of graph.initializers) {
      if (!scope.values.has(value)) this.#define(value, scope, ctx, "initializer");
      this.#checkInitializer(name, value, ctx);
    }
    for (const node of graph) {
      node.inputs.forEach((input, index) => {
        if (input && !scope.has(input)) this.#undefinedInput(node, index, input, ctx);
      });
      this.#checkNode(node, ctx);
      for (const [attribute, subgraph] of subgraphsOf(node)) {
        this.#checkGraph(
          {
            graph: subgraph,
            path: `${ctx.path}/${node.opType} "${node.name}"/${attribute}`,
            opsets: ctx.opsets,
            ...(ctx.function ? { function: ctx.function } : {}),
          },
          scope,
        );
      }
      for (const output of node.outputs) {
        if (output.name === "") {
          if (output.uses().length > 0 || graph.outputs.includes(output))
            this.#add(
              "EMPTY_NAME",
              "error",
              ctx,
              node,
              `output ${output.outputIndex} has no name but is read by ${readers(output)}`,
              "give the value a unique name (NameScope in the graph toolkit makes one)",
            );
          continue;
        }
        this.#define(output, scope, ctx, `output of node "${node.name}"`, node);
      }
    }
    graph.outputs.forEach((output, index) => {
      if (!scope.has(output)) {
        this.#add(
          "UNDEFINED_VALUE",
          "error",
          ctx,
          undefined,
          `graph output ${index} "${output.name}" ${whyUndefined(output, graph)}`,
          "make the graph output a value a node of this graph computes, or a graph input or initializer",
        );
      }
    });
  }

  #define(value: Value, scope: Scope, ctx: GraphContext, what: string, node?: Node): void {
    if (value.name === "") {
      this.#add(
        "EMPTY_NAME",
        "error",
        ctx,
        node,
        `a ${what} has no name`,
        "every graph input, initializer and read value needs a unique name",
      );
      return;
    }
    const existing = scope.byName(value.name);
    if (existing && existing !== value) {
      const shadow = !scope.names.has(value.name);
      this.#add(
        "DUPLICATE_NAME",
        "error",
        ctx,
        node,
        shadow
          ? `the ${what} "${value.name}" shadows a value of an enclosing graph with the same name`
          : `the name "${value.name}" is defined twice (${what}, and ${definitionOf(existing)})`,
        "names must be unique (static single assignment, no shadowing): rename one (NameScope in the graph toolkit makes unique names)",
      );
    }
    scope.values.add(value);
    scope.names.set(value.name, value);
  }

  #undefinedInput(node: Node, index: number, input: Value, ctx: GraphContext): void {
    const producer = input.producer();
    const laterHere = producer && isInOrAround(producer, ctx.graph);
    this.#add(
      laterHere ? "USE_BEFORE_DEFINITION" : "UNDEFINED_VALUE",
      "error",
      ctx,
      node,
      laterHere
        ? `input ${index} "${input.name}" is read before node "${producer.name}" (${producer.opType}) computes it`
        : `input ${index} "${input.name}" ${whyUndefined(input, ctx.graph)}`,
      laterHere
        ? "nodes must be in topological order: sort the graph (graph.sort()), or remove the cycle"
        : "rewire the input to a value this graph (or an enclosing one) defines",
    );
  }

  #checkInitializer(name: string, value: Value, ctx: GraphContext): void {
    const constant = value.constValue;
    if (!constant || isSparse(constant)) return;
    const tensor = constant;
    if (name !== value.name) {
      this.#add(
        "INITIALIZER_TYPE",
        "error",
        ctx,
        undefined,
        `initializer "${name}" is registered under a name other than its value's ("${value.name}")`,
        "rename values and initializers together",
      );
    }
    const declared = value.type;
    if (declared?.kind === "tensor" && declared.elemType !== DataType.UNDEFINED) {
      if (declared.elemType !== tensor.dataType) {
        this.#add(
          "INITIALIZER_TYPE",
          "error",
          ctx,
          undefined,
          `initializer "${name}" holds ${onnxTypeString({ kind: "tensor", elemType: tensor.dataType })} but is declared ${onnxTypeString(declared)}`,
          "make the declared type (graph input or value_info) match the stored tensor",
        );
      }
      const dims = declared.shape?.dims;
      if (
        dims &&
        (dims.length !== tensor.dims.length ||
          dims.some((d, i) => typeof d === "number" && d !== tensor.dims[i]))
      ) {
        this.#add(
          "INITIALIZER_TYPE",
          "error",
          ctx,
          undefined,
          `initializer "${name}" has shape [${tensor.dims.join(", ")}] but is declared [${dims.map((d) => d ?? "?").join(", ")}]`,
          "make the declared shape match the stored tensor",
        );
      }
    }
    if (ctx.path === "main" && this.model.irVersion < 4 && !ctx.graph.inputs.includes(value)) {
      this.#add(
        "INITIALIZER_NOT_INPUT",
        "warning",
        ctx,
        undefined,
        `initializer "${name}" is not a graph input, which IR version ${this.model.irVersion} (< 4) requires`,
        "list it among the graph inputs, or raise the IR version to 4 or newer",
      );
    }
  }

  #checkNode(node: Node, ctx: GraphContext): void {
    const domain = node.domain;
    const version = ctx.opsets.get(domain);
    if (version === undefined) {
      const key = `${ctx.function ? ctx.path : "model"}::${domain}`;
      if (!this.#reportedImports.has(key)) {
        this.#reportedImports.add(key);
        this.#add(
          "MISSING_OPSET_IMPORT",
          "error",
          ctx,
          node,
          `the ${ctx.function ? "function" : "model"} imports no opset for domain "${domain || "ai.onnx"}", which this node uses`,
          `add an opset import for "${domain || "ai.onnx"}" (model.opsetImports.set(${JSON.stringify(domain)}, version))`,
        );
      }
      return;
    }
    const local = this.model.functions.get(functionKey(domain, node.opType, node.overload));
    if (local) {
      this.nodesChecked++;
      this.#checkFunctionCall(node, local, ctx);
      return;
    }
    if (!isKnownDomain(domain)) {
      this.unchecked.set(domain, (this.unchecked.get(domain) ?? 0) + 1);
      return;
    }
    this.nodesChecked++;
    let schema = schemaFor(domain, node.opType, version);
    if (!schema) {
      schema = ortDefaultDomainSchema(domain, node.opType, version);
      if (!schema) {
        this.#missingSchema(node, version, ctx);
        return;
      }
      this.#add(
        "RUNTIME_ONLY_OP",
        "warning",
        ctx,
        node,
        `${node.opType} is not in "ai.onnx" at opset ${version}: it is ONNX Runtime's own registration of it in the default domain (its graph optimizer writes it), which ONNX Runtime loads and other runtimes refuse`,
        node.opType === "LayerNormalization"
          ? "for a portable model, convert it to opset 17 or newer (lathe convert --opset 17), where LayerNormalization is standard"
          : "for a portable model, write it as ReduceMean/Sqrt/Div/Mul (RMS normalization)",
      );
    }
    this.#checkArity(node, schema, ctx);
    this.#checkAttributes(node, schema, ctx);
    this.#checkTypes(node, schema, ctx);
  }

  #missingSchema(node: Node, version: number, ctx: GraphContext): void {
    const domainName = node.domain || "ai.onnx";
    const history = schemaHistory(node.domain, node.opType);
    if (history.length === 0) {
      const close = closestMatch(node.opType, opsOfDomain(node.domain));
      this.#add(
        "UNKNOWN_OP",
        "error",
        ctx,
        node,
        `domain "${domainName}" has no operator "${node.opType}"`,
        close
          ? `did you mean "${close}"?`
          : `see the operators of "${domainName}" in docs/onnx-checks.md's sources`,
      );
      return;
    }
    const first = history[0]!;
    if (first.sinceVersion > version) {
      this.#add(
        "OP_NOT_IN_OPSET",
        "error",
        ctx,
        node,
        `${node.opType} exists in "${domainName}" from opset ${first.sinceVersion}; the model imports opset ${version}`,
        `convert the model to opset ${first.sinceVersion} or newer (lathe convert --opset), or use an op that opset ${version} has`,
      );
      return;
    }
    const removed = [...history].reverse().find((s) => s.sinceVersion <= version)!;
    this.#add(
      "OP_REMOVED",
      "error",
      ctx,
      node,
      `${node.opType} was removed from "${domainName}" at opset ${removed.sinceVersion}; the model imports opset ${version}`,
      REPLACEMENTS[node.opType] ?? `use an older opset, or the op that replaced ${node.opType}`,
    );
  }

  #checkArity(node: Node, schema: OpSchema, ctx: GraphContext): void {
    const sig = `${schema.name}-${schema.sinceVersion}`;
    const count = (n: number, min: number, max: number | null, what: string): boolean => {
      if (n >= min && (max === null || n <= max)) return true;
      this.#add(
        what === "inputs" ? "INPUT_COUNT" : "OUTPUT_COUNT",
        "error",
        ctx,
        node,
        `has ${n} ${what}; ${sig} takes ${max === null ? `at least ${min}` : min === max ? `${min}` : `${min} to ${max}`}`,
        `give it the ${what} ${sig} declares: ${listParams(what === "inputs" ? schema.inputs : schema.outputs)}`,
      );
      return false;
    };
    if (count(node.inputs.length, schema.minInputs, schema.maxInputs, "inputs")) {
      node.inputs.forEach((input, index) => {
        const formal = formalAt(schema.inputs, index);
        if (!input && formal?.option === "single")
          this.#add(
            "MISSING_INPUT",
            "error",
            ctx,
            node,
            `required input ${index} (${formal.name}) of ${sig} is empty`,
            `connect a value to ${formal.name}; only optional inputs may be left out`,
          );
      });
    }
    if (count(node.outputs.length, schema.minOutputs, schema.maxOutputs, "outputs")) {
      node.outputs.forEach((output, index) => {
        const formal = formalAt(schema.outputs, index);
        if (output.name === "" && formal?.option === "single")
          this.#add(
            "MISSING_OUTPUT",
            "error",
            ctx,
            node,
            `required output ${index} (${formal.name}) of ${sig} has no name`,
            "name the output; only optional outputs may be left out",
          );
      });
    }
  }

  #checkAttributes(node: Node, schema: OpSchema, ctx: GraphContext): void {
    const sig = `${schema.name}-${schema.sinceVersion}`;
    for (const attribute of node.attributes.values()) {
      if (attribute.name.startsWith("__")) continue; // internal symbols, as ONNX's checker allows
      const declared = schema.attributes.find((a) => a.name === attribute.name);
      if (!declared) {
        const close = closestMatch(
          attribute.name,
          schema.attributes.map((a) => a.name),
        );
        this.#add(
          "UNKNOWN_ATTRIBUTE",
          "error",
          ctx,
          node,
          `${sig} has no attribute "${attribute.name}"`,
          close
            ? `did you mean "${close}"?`
            : `${sig}'s attributes: ${schema.attributes.map((a) => a.name).join(", ") || "none"}`,
        );
        continue;
      }
      if (attribute.type !== declared.type && attribute.type !== AttributeType.UNDEFINED) {
        this.#add(
          "ATTRIBUTE_TYPE",
          "error",
          ctx,
          node,
          `attribute "${attribute.name}" is ${AttributeType[attribute.type]}; ${sig} declares it ${AttributeType[declared.type]}`,
          `write it as ${AttributeType[declared.type]}${declared.type === AttributeType.FLOAT ? " (attr.float, not an integer)" : ""}`,
        );
      }
    }
    for (const declared of schema.attributes) {
      if (declared.required && !node.attributes.has(declared.name))
        this.#add(
          "MISSING_ATTRIBUTE",
          "error",
          ctx,
          node,
          `required attribute "${declared.name}" (${AttributeType[declared.type]}) of ${sig} is missing`,
          `set "${declared.name}"`,
        );
    }
  }

  /** Known value types against the schema's type constraints, and one type per constraint. */
  #checkTypes(node: Node, schema: OpSchema, ctx: GraphContext): void {
    const sig = `${schema.name}-${schema.sinceVersion}`;
    const bound = new Map<string, { type: string; value: Value }>();
    const visit = (
      values: readonly (Value | undefined)[],
      formals: readonly FormalParameter[],
      side: string,
    ) => {
      values.forEach((value, index) => {
        const formal = formalAt(formals, index);
        if (!value || !formal || (value.name === "" && side === "output")) return;
        const type = knownType(value);
        if (type === undefined) return;
        const constraint = schema.typeConstraints.find((c) => c.name === formal.type);
        const allowed = constraint ? constraint.types : [formal.type];
        if (!allowed.includes(type)) {
          this.#add(
            "TYPE_NOT_ALLOWED",
            "error",
            ctx,
            node,
            `${side} ${index} "${value.name}" (${formal.name}) is ${type}; ${sig} allows ${allowed.join(", ")}`,
            "insert a Cast, or feed a value of an allowed type",
          );
          return;
        }
        if (!constraint || (formal.option === "variadic" && formal.homogeneous === false)) return;
        const previous = bound.get(formal.type);
        if (!previous) bound.set(formal.type, { type, value });
        else if (previous.type !== type)
          this.#add(
            "TYPE_MISMATCH",
            "error",
            ctx,
            node,
            `${side} ${index} "${value.name}" is ${type} but "${previous.value.name}" is ${previous.type}; ${sig} needs both to be the same type ${formal.type}`,
            "make the types agree (a Cast on one of them)",
          );
      });
    };
    visit(node.inputs, schema.inputs, "input");
    visit(node.outputs, schema.outputs, "output");
  }

  #checkFunctionCall(node: Node, fn: OnnxFunction, ctx: GraphContext): void {
    const sig = `function ${fn.domain}::${fn.name}`;
    if (node.inputs.length > fn.graph.inputs.length)
      this.#add(
        "INPUT_COUNT",
        "error",
        ctx,
        node,
        `has ${node.inputs.length} inputs; ${sig} takes ${fn.graph.inputs.length}`,
        "pass one value per formal input of the function",
      );
    if (node.outputs.length > fn.graph.outputs.length)
      this.#add(
        "OUTPUT_COUNT",
        "error",
        ctx,
        node,
        `has ${node.outputs.length} outputs; ${sig} returns ${fn.graph.outputs.length}`,
        "take at most the function's outputs",
      );
    const known = new Set([...fn.attributes, ...fn.attributeDefaults.map((a) => a.name)]);
    for (const attribute of node.attributes.values()) {
      if (!known.has(attribute.name))
        this.#add(
          "UNKNOWN_ATTRIBUTE",
          "error",
          ctx,
          node,
          `${sig} has no attribute "${attribute.name}"`,
          `its attributes: ${[...known].join(", ") || "none"}`,
        );
    }
  }

  #add(
    code: CheckCode,
    severity: CheckFinding["severity"],
    ctx: { path: string },
    node: Node | undefined,
    message: string,
    hint: string,
  ): void {
    const doubtOnly =
      node !== undefined &&
      RUNTIME_DOMAINS.has(node.domain) &&
      SCHEMA_CODES.has(code) &&
      !this.model.functions.has(functionKey(node.domain, node.opType, node.overload));
    this.findings.push({
      code,
      severity: doubtOnly ? "warning" : severity,
      graph: ctx.path,
      ...(node ? { node: node.name, op: node.qualifiedOp } : {}),
      message,
      hint,
    });
  }
}

/** The formal parameter at an index: past the declared ones, the last one if it is variadic. */
function formalAt(formals: readonly FormalParameter[], index: number): FormalParameter | undefined {
  if (index < formals.length) return formals[index];
  const last = formals.at(-1);
  return last?.option === "variadic" ? last : undefined;
}

function listParams(formals: readonly FormalParameter[]): string {
  return (
    formals.map((p) => (p.option === "single" ? p.name : `${p.name} (${p.option})`)).join(", ") ||
    "none"
  );
}

/** A value's type as a type string: declared, or from its constant; undefined when unknown. */
function knownType(value: Value): string | undefined {
  if (value.type) {
    const type = value.type;
    if (
      (type.kind === "tensor" || type.kind === "sparse_tensor") &&
      type.elemType === DataType.UNDEFINED
    )
      return undefined;
    return onnxTypeString(type);
  }
  const constant = value.constValue;
  if (!constant) return undefined;
  return isSparse(constant)
    ? onnxTypeString({ kind: "sparse_tensor", elemType: constant.values.dataType })
    : onnxTypeString({ kind: "tensor", elemType: constant.dataType });
}

/**
 * By shape, not `instanceof`: a plugin bundling its own copy of @lathe/core builds tensors of
 * its copy's classes, and the checker must judge those models too.
 */
function isSparse(constant: Tensor | SparseTensor): constant is SparseTensor {
  return "values" in constant && "indices" in constant;
}

/** Whether a node sits in `graph` or in a graph enclosing it. */
function isInOrAround(node: Node, graph: Graph): boolean {
  for (let g: Graph | undefined = graph; g; g = g.parent?.graph) if (node.graph === g) return true;
  return false;
}

function whyUndefined(value: Value, graph: Graph): string {
  const producer = value.producer();
  if (producer) {
    if (!producer.graph)
      return `was computed by node "${producer.name}" (${producer.opType}), which is no longer in any graph`;
    if (isInOrAround(producer, graph))
      return `is read before node "${producer.name}" (${producer.opType}) computes it`;
    return `is computed by node "${producer.name}" (${producer.opType}) in another graph, not this one or one around it`;
  }
  if (value.constValue)
    return "is a constant that is not among this graph's initializers (removed?)";
  return "is not a graph input, an initializer or a node output of this graph or one around it";
}

function definitionOf(value: Value): string {
  const producer = value.producer();
  return producer
    ? `output of node "${producer.name}" (${producer.opType})`
    : "a graph input or initializer";
}

function readers(value: Value): string {
  const names = value.uses().map((u) => `"${u.node.name}"`);
  return names.length > 0 ? `node ${names.slice(0, 3).join(", ")}` : "the graph's outputs";
}
