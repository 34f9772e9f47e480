import { constantNumbers, constantOf, type Value } from "@lathe/core";

/**
 * Element `index` of a 1-d int64 shape tensor when it is static, seeing through the way
 * exporters assemble shapes: `Concat` of constants and `Unsqueeze`d scalars, a `Reshape` to
 * [-1], and the `Where(Equal(size, -1), 1, size)` that `expand` writes.
 */
export function staticElement(shape: Value | undefined, index: number): number | undefined {
  if (!shape) return undefined;
  const numbers = constantNumbers(shape);
  if (numbers) return numbers[index];
  const node = shape.producer();
  if (node?.domain !== "") return undefined;
  switch (node.opType) {
    case "Concat": {
      let offset = 0;
      for (const part of node.inputs) {
        const length = staticLength(part);
        if (length === undefined) return undefined;
        if (index < offset + length) return staticElement(part, index - offset);
        offset += length;
      }
      return undefined;
    }
    case "Unsqueeze":
      return index === 0 ? scalarOf(node.inputs[0]) : undefined;
    case "Reshape":
    case "Cast":
    case "Identity":
      return staticElement(node.inputs[0], index);
    case "Where": {
      // expand's "-1 means keep": the size itself when that element is not -1
      const element = staticElement(node.inputs[2], index);
      return element === -1 ? undefined : element;
    }
    default:
      return undefined;
  }
}

function staticLength(value: Value | undefined): number | undefined {
  const numbers = constantNumbers(value);
  if (numbers) return numbers.length;
  const node = value?.producer();
  if (node?.opType === "Unsqueeze") return 1;
  // a dim picked by Gather(Shape(x), [i]) with 1-D constant indices
  if (node?.opType === "Gather") {
    const indices = constantOf(node.inputs[1]);
    if (indices?.dims.length === 1) return indices.elementCount;
  }
  // Concat(Cast(Constant), …): exporters cast literal shape parts to int64
  if (node?.opType === "Cast" || node?.opType === "Identity") return staticLength(node.inputs[0]);
  return undefined;
}

function scalarOf(value: Value | undefined): number | undefined {
  const numbers = constantNumbers(value);
  return numbers?.length === 1 ? numbers[0] : undefined;
}

/** The node producing `value` when it is `opType` in the default domain. */
export function producedBy(value: Value | undefined, opType: string) {
  const node = value?.producer();
  return node && node.opType === opType && node.domain === "" ? node : undefined;
}

export function hasPerm(value: Value | undefined, perm: readonly number[]): boolean {
  const node = producedBy(value, "Transpose");
  const actual = node?.getInts("perm", []);
  return !!actual && actual.length === perm.length && actual.every((p, i) => p === perm[i]);
}
