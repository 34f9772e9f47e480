import { AttributeType, constantNumbers, constantOf, DataType, type Value } from "@lathe/core";
import { producedBy } from "./shapes.js";

/**
 * A scalar computed from constants and the head size, as exporters write attention scales:
 * `1/√8` folded, `Pow(Cast(size(v, -1)), 0.5)` traced, `Sqrt(1/Sqrt(Cast(Shape(q)[-1])))`.
 * Returns the function of the head size, or why the value is not such a scalar.
 */
export type ScalarOfHead = (headSize: number) => number;

export function scalarOfHead(
  value: Value | undefined,
  headTensors: ReadonlySet<Value>,
  depth = 0,
): ScalarOfHead | string {
  if (!value) return "the scale is missing";
  // an activation matched where a scale may stand (Mul(q, x) of two tensors): say so at once
  // instead of walking the network above it
  const count = staticElementCount(value);
  if (count !== undefined && count !== 1)
    return `the scale "${value.name}" has ${count} elements, not one`;
  if (depth > MAX_DEPTH)
    return `the scale "${value.name}" is computed by more than ${MAX_DEPTH} ops: not a scalar of the head size`;
  const constant = constantOf(value);
  if (constant) {
    if (constant.elementCount !== 1)
      return `the scale "${value.name}" has ${constant.elementCount} elements, not one`;
    if (constant.dataType === DataType.STRING) return "the scale is a string";
    const number = Number(constant.toArray()[0]);
    return () => number;
  }
  const node = value.producer();
  if (node?.domain !== "")
    return `the scale "${value.name}" is not computed from constants and the head size`;
  const head = headSizeLeaf(value, headTensors);
  if (head !== undefined) return head;
  // decided before reading the inputs: a Slice's data input may be the whole network above it
  if (!SCALAR_OPS.has(node.opType))
    return `the scale is computed by ${node.opType} "${node.name}", which is not a scalar of the head size`;
  const args = node.inputs.map((input) => scalarOfHead(input, headTensors, depth + 1));
  const bad = args.find((a) => typeof a === "string");
  const f = args as ScalarOfHead[];
  const unary = (fn: (x: number) => number): ScalarOfHead | string =>
    typeof bad === "string" ? bad : (h) => fn(f[0]!(h));
  const binary = (fn: (x: number, y: number) => number): ScalarOfHead | string =>
    typeof bad === "string" ? bad : (h) => fn(f[0]!(h), f[1]!(h));
  switch (node.opType) {
    case "Cast":
    case "Identity":
    case "Squeeze":
    case "Unsqueeze":
    case "Reshape":
      return typeof args[0] === "string" ? args[0] : (args[0] as ScalarOfHead);
    case "Sqrt":
      return unary(Math.sqrt);
    case "Reciprocal":
      return unary((x) => 1 / x);
    case "Neg":
      return unary((x) => -x);
    case "Pow":
      return binary((x, y) => x ** y);
    case "Div":
      return binary((x, y) => x / y);
    case "Mul":
      return binary((x, y) => x * y);
    case "Add":
      return binary((x, y) => x + y);
    case "Sub":
      return binary((x, y) => x - y);
    case "ConstantOfShape": {
      // torch.full([], v) traced: ConstantOfShape of an empty shape, i.e. a scalar v
      const filled = node.attribute("value");
      const shape = constantOf(node.inputs[0]);
      if (shape?.elementCount !== 0) return "the scale's ConstantOfShape is not a scalar";
      const v = filled?.type === AttributeType.TENSOR ? Number(filled.value.toArray()[0]) : 0;
      return () => v;
    }
    default:
      return `the scale is computed by ${node.opType} "${node.name}", which is not a scalar of the head size`;
  }
}

/** The ops a scale of the head size is computed with (the cases below). */
// biome-ignore format: a list of names
const SCALAR_OPS = new Set([
  "Cast", "Identity", "Squeeze", "Unsqueeze", "Reshape", "Sqrt", "Reciprocal", "Neg", "Pow", "Div",
  "Mul", "Add", "Sub", "ConstantOfShape",
]);

/** Exporters compute a scale in a handful of ops (`Pow(Cast(Gather(Shape(q), -1)), 0.5)`). */
const MAX_DEPTH = 16;

/** The element count a value's (inferred) type gives, when every dim is a number. */
function staticElementCount(value: Value): number | undefined {
  const type = value.type;
  const dims = type?.kind === "tensor" ? type.shape?.dims : undefined;
  if (!dims?.every((d) => typeof d === "number")) return undefined;
  return (dims as number[]).reduce((a, b) => a * b, 1);
}

/**
 * `Shape(t)` of a head tensor t, or, as ONNX Runtime's transpose optimizer rewrites
 * `Shape(Transpose(x, p))`, `Gather(Shape(x), p)` where t = Transpose(x, p).
 */
function isShapeOfHead(vector: Value | undefined, headTensors: ReadonlySet<Value>): boolean {
  const shape = producedBy(vector, "Shape");
  if (shape?.inputs[0]) return headTensors.has(shape.inputs[0]);
  const gather = producedBy(vector, "Gather");
  const source = producedBy(gather?.inputs[0], "Shape")?.inputs[0];
  const perm = constantNumbers(gather?.inputs[1]);
  if (!gather || !source || !perm || gather.getInt("axis", 0) !== 0) return false;
  return source
    .uses()
    .some(
      ({ node }) =>
        node.opType === "Transpose" &&
        node.domain === "" &&
        headTensors.has(node.outputs[0]!) &&
        sameNumbers(node.getInts("perm", []), perm),
    );
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** `Shape(x)[-1]` (Gather, or Slice[+Squeeze]) of a tensor whose last axis is the head size. */
function headSizeLeaf(value: Value, headTensors: ReadonlySet<Value>): ScalarOfHead | undefined {
  let node = value.producer();
  if (node?.opType === "Squeeze") node = node.inputs[0]?.producer();
  if (!node) return undefined;
  if (!isShapeOfHead(node.inputs[0], headTensors)) return undefined;
  const last = (i: number | undefined) => i === -1 || i === 3;
  if (node.opType === "Gather") {
    const index = constantOf(node.inputs[1]);
    if (index?.elementCount === 1 && last(Number(index.toArray()[0]))) return (h) => h;
  }
  if (node.opType === "Slice") {
    const start = constantOf(node.inputs[1]);
    if (start?.elementCount === 1 && last(Number(start.toArray()[0]))) return (h) => h;
  }
  return undefined;
}

/** What a scale function is: the default 1/√head, a constant, or neither. */
export function classifyScale(
  f: ScalarOfHead,
): { kind: "default" } | { kind: "constant"; value: number } | { kind: "other" } {
  const a = f(64);
  const b = f(80);
  const close = (x: number, y: number) =>
    Math.abs(x - y) <= 1e-6 * Math.max(Math.abs(x), Math.abs(y));
  if (close(a, 1 / Math.sqrt(64)) && close(b, 1 / Math.sqrt(80))) return { kind: "default" };
  if (close(a, b) && Number.isFinite(a)) return { kind: "constant", value: a };
  return { kind: "other" };
}
