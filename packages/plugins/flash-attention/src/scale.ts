import { AttributeType, constantOf, DataType, type Value } from "@lathe/core";
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
): ScalarOfHead | string {
  if (!value) return "the scale is missing";
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
  const args = node.inputs.map((input) => scalarOfHead(input, headTensors));
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

/** `Shape(x)[-1]` (Gather, or Slice[+Squeeze]) of a tensor whose last axis is the head size. */
function headSizeLeaf(value: Value, headTensors: ReadonlySet<Value>): ScalarOfHead | undefined {
  let node = value.producer();
  if (node?.opType === "Squeeze") node = node.inputs[0]?.producer();
  if (!node) return undefined;
  const shape = producedBy(node.inputs[0], "Shape");
  if (!shape?.inputs[0] || !headTensors.has(shape.inputs[0])) return undefined;
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
