import {
  AttributeType,
  constantNumbers,
  constantOf,
  isMatch,
  matchPattern,
  type Node,
  patterns,
  Tensor,
  type Value,
} from "@lathe/core";
import { producedBy } from "./shapes.js";

const { op, c, v, any, anyOf, optional } = patterns;

/**
 * Where a causal mask counts from: `bottom-right` (query i sees keys up to T − S + i, as a KV
 * cache needs and GroupQueryAttention does) or `top-left` (query i sees keys up to i: torch's
 * `ones(S, T).tril()`, the same function only when nothing is cached).
 */
export type CausalAlignment = "bottom-right" | "top-left";

/**
 * Whether a Where condition is a causal mask: GPT-2's lower-triangular constant buffer
 * [1, 1, P, P] sliced to rows [T−S, T) on axis 2 and columns [0, T) on axis 3, or a lower Trilu
 * of ones. Returns its alignment, or a reason when it is not.
 */
export function causalCondition(condition: Value): CausalAlignment | { reason: string } {
  let value: Value | undefined = condition;
  while (producedBy(value, "Cast")) value = value!.producer()!.inputs[0];
  const trilu = producedBy(value, "Trilu");
  if (trilu) {
    const reason = lowerTriluOfOnesReason(trilu);
    return reason ? { reason } : "top-left";
  }
  const reason = triangularBufferReason(value);
  return reason ? { reason } : "bottom-right";
}

function triangularBufferReason(value: Value | undefined): string | undefined {
  const columns = producedBy(value, "Slice");
  const rows = producedBy(columns?.inputs[0], "Slice");
  if (!columns || !rows) return "the Where condition is not a slice of a constant mask buffer";
  const buffer = constantOf(rows.inputs[0]);
  if (!buffer) return "the Where condition is not sliced from a constant buffer";
  const axesOf = (v: Value | undefined) => constantNumbers(v);
  if (axesOf(rows.inputs[3])?.[0] !== 2 || axesOf(columns.inputs[3])?.[0] !== 3)
    return "the mask buffer is not sliced on rows (axis 2) then columns (axis 3)";
  if ((constantNumbers(columns.inputs[1])?.[0] ?? -1) !== 0)
    return "the mask columns do not start at 0";
  // the rows end where the columns end: both are the key length
  const end = (s: typeof rows) => s.inputs[2];
  if (!sameSize(end(rows), end(columns)))
    return "the mask rows and columns end at different lengths";
  if (!producedBy(rows.inputs[1]?.producer()?.inputs[0] ?? rows.inputs[1], "Sub"))
    return "the mask rows do not start at key length − query length";
  const dims = buffer.dims;
  if (dims.length !== 4 || dims[2] !== dims[3])
    return `the mask buffer has shape [${dims.join(", ")}], not [1, 1, P, P]`;
  const n = dims[2]!;
  const bits = buffer.toArray() as ArrayLike<number | bigint | boolean>;
  for (let r = 0; r < n; r++)
    for (let col = 0; col < n; col++) {
      const on = Number(bits[r * n + col]) !== 0;
      if (on !== col <= r) return "the mask buffer is not lower-triangular (not a causal mask)";
    }
  return undefined;
}

/**
 * Why a Trilu is not `ones(S, T).tril()` as torch exports it (the constant 1 expanded to
 * [S, T], or ConstantOfShape of 1, kept on and below the main diagonal).
 */
function lowerTriluOfOnesReason(trilu: Node): string | undefined {
  if (trilu.getInt("upper", 1) !== 0)
    return "the mask is an upper Trilu, not lower-triangular (not a causal mask)";
  const diagonal = trilu.inputs[1] ? constantNumbers(trilu.inputs[1]) : [0];
  if (diagonal?.[0] !== 0) return "the Trilu mask has a diagonal offset that is not the constant 0";
  const source = trilu.inputs[0]?.producer();
  const ones =
    source?.domain === "" &&
    ((source.opType === "Expand" && allOnes(constantOf(source.inputs[0]))) ||
      (source.opType === "ConstantOfShape" && allOnes(fillOf(source))));
  if (!ones) return "the Trilu mask is not taken of a tensor of ones";
  // a static [.., 1, T] or [.., S, 1] mask would broadcast over the scores: not causal
  const shape = constantNumbers(source.opType === "Expand" ? source.inputs[1] : source.inputs[0]);
  if (shape && (shape.length < 2 || shape.slice(-2).some((d) => d < 2)))
    return `the Trilu mask has the static shape [${shape.join(", ")}]: it broadcasts over the scores`;
  return undefined;
}

function fillOf(node: Node): Tensor | undefined {
  const value = node.attribute("value");
  return value?.type === AttributeType.TENSOR && value.value instanceof Tensor
    ? value.value
    : undefined;
}

function allOnes(tensor: Tensor | undefined): boolean {
  if (!tensor) return false;
  const values = tensor.toArray() as ArrayLike<number | bigint | boolean>;
  return values.length > 0 && Array.from(values).every((x) => Number(x) === 1);
}

/** Two traced sizes are the same: the same value, or Unsqueezes of the same scalar. */
function sameSize(a: Value | undefined, b: Value | undefined): boolean {
  if (a === b) return true;
  const ua = producedBy(a, "Unsqueeze");
  const ub = producedBy(b, "Unsqueeze");
  return !!ua && !!ub && ua.inputs[0] === ub.inputs[0];
}

const isRange = (value: Value) =>
  producedBy(value, "Range") ? undefined : "the mask positions are not an arange";
const isValue = (expected: number) => (t: { toArray(): ArrayLike<number | bigint> }) =>
  Number(t.toArray()[0]) === expected ? undefined : `expected the constant ${expected}`;
const shared = { shared: true } as const;
const zeroFill = (node: Node) => {
  const fill = fillOf(node);
  return !fill || allZeros(fill) ? undefined : "the cache columns are not zeros";
};
const allZeros = (t: Tensor) =>
  Array.from(t.toArray() as ArrayLike<number | bigint>).every((x) => Number(x) === 0);

/** `mask.to(dtype)` of the [S, S] rows: Where(Less(arange, arange + 1 as a column), 0, min). */
const causalRows = optional(
  op(
    "Cast",
    [
      op(
        "Where",
        [
          optional(
            op(
              "Cast",
              [
                op(
                  "Less",
                  [
                    v("positions", isRange),
                    op(
                      "Reshape",
                      [
                        op("Add", [v("positions"), c("one", isValue(1))], {
                          commutative: true,
                          ...shared,
                        }),
                        any,
                      ],
                      shared,
                    ),
                  ],
                  shared,
                ),
              ],
              shared,
            ),
          ),
          c("zero", isValue(0)),
          op("ConstantOfShape", [any], shared),
        ],
        shared,
      ),
    ],
    shared,
  ),
);

/**
 * With a cache, `_make_causal_mask` puts `zeros(S, past)` in front of the rows: every query sees
 * the whole cache, then its own causal rows (bottom-right aligned, as GroupQueryAttention).
 */
const causalRowsAfterCache = anyOf(
  op("Concat", [op("ConstantOfShape", [any], { ...shared, where: zeroFill }), causalRows], {
    ...shared,
    attributes: { axis: (axis: unknown) => axis === -1 || axis === 1 },
  }),
  causalRows,
);

/**
 * transformers' `_make_causal_mask` as traced: Where(Less(arange, (arange + 1).view(n, 1)), 0,
 * full(min)), cast, unsqueezed twice and expanded to [batch, 1, S, T]: visible where the key
 * position is at most the query position.
 */
const causalPart = op(
  "Expand",
  [op("Unsqueeze", [op("Unsqueeze", [causalRowsAfterCache, any], shared), any], shared), any],
  shared,
);

const isLarge = (t: { toArray(): ArrayLike<number | bigint> }) =>
  Number(t.toArray()[0]) <= -1e4 ? undefined : "expected a large negative fill";

/**
 * torch's SDPA with `is_causal` as its opset-14 symbolic writes it:
 * Where(Equal(Trilu(ones(S, T), upper=0), 0), -inf, 0), added to the scores.
 */
const sdpaCausalPart = op(
  "Where",
  [
    op(
      "Equal",
      [
        anyOf(
          op("Trilu", [any], { capture: "trilu", ...shared }),
          op("Trilu", [any, any], { capture: "trilu", ...shared }),
        ),
        c("z", isValue(0)),
      ],
      shared,
    ),
    c("fill", isLarge),
    c("zero", isValue(0)),
  ],
  shared,
);

/** The causal part of an additive mask: its alignment, or undefined when it is not one. */
function causalPartOf(value: Value): CausalAlignment | undefined {
  if (isMatch(matchPattern(causalPart, value))) return "bottom-right";
  const sdpa = matchPattern(sdpaCausalPart, value);
  if (isMatch(sdpa) && !lowerTriluOfOnesReason(sdpa.node("trilu"))) return "top-left";
  return undefined;
}

/**
 * Splits an additive 4-D mask into its causal part and the rest (the padding mask), when it is
 * `padding + causal` as transformers 4.35 builds it (or torch's SDPA `is_causal` mask). Undefined
 * when no causal part is found.
 */
export function splitCausalMask(
  mask: Value,
): { padding: Value | undefined; alignment: CausalAlignment } | undefined {
  const sum = producedBy(mask, "Add");
  if (sum) {
    for (const [i, j] of [
      [0, 1],
      [1, 0],
    ] as const) {
      const part = sum.inputs[i];
      const alignment = part && causalPartOf(part);
      if (alignment) return { padding: sum.inputs[j], alignment };
    }
  }
  const alignment = causalPartOf(mask);
  return alignment ? { padding: undefined, alignment } : undefined;
}
