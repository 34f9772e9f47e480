import {
  constantNumbers,
  constantOf,
  isMatch,
  matchPattern,
  patterns,
  type Value,
} from "@lathe/core";
import { producedBy } from "./shapes.js";

const { op, c, v, any, optional } = patterns;

/**
 * Whether a Where condition is GPT-2's causal mask: a lower-triangular constant buffer
 * [1, 1, P, P] sliced to rows [T−S, T) on axis 2 and columns [0, T) on axis 3. Returns a reason
 * when it is not.
 */
export function triangularBufferReason(condition: Value): string | undefined {
  let value: Value | undefined = condition;
  while (producedBy(value, "Cast")) value = value!.producer()!.inputs[0];
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

/**
 * transformers' `_make_causal_mask` as traced: Where(Less(arange, (arange + 1).view(n, 1)), 0,
 * full(min)), cast, unsqueezed twice and expanded to [batch, 1, S, T]: visible where the key
 * position is at most the query position.
 */
const causalPart = op(
  "Expand",
  [
    op(
      "Unsqueeze",
      [
        op(
          "Unsqueeze",
          [
            optional(
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
            ),
            any,
          ],
          shared,
        ),
        any,
      ],
      shared,
    ),
    any,
  ],
  shared,
);

/**
 * Splits an additive 4-D mask into its causal part and the rest (the padding mask), when it is
 * `padding + causal` as transformers 4.35 builds it. Undefined when no causal part is found.
 */
export function splitCausalMask(mask: Value): { padding: Value | undefined } | undefined {
  const sum = producedBy(mask, "Add");
  if (sum) {
    for (const [i, j] of [
      [0, 1],
      [1, 0],
    ] as const) {
      const part = sum.inputs[i];
      if (part && isMatch(matchPattern(causalPart, part))) return { padding: sum.inputs[j] };
    }
  }
  if (isMatch(matchPattern(causalPart, mask))) return { padding: undefined };
  return undefined;
}
