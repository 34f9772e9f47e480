import {
  constantOf,
  DataType,
  isMatch,
  type Match,
  matchPattern,
  patterns,
  Tensor,
  type Value,
} from "@lathe/core";
import { hasPerm, producedBy } from "./shapes.js";

const { op, v, c, any, optional } = patterns;

/** `cos[position_ids].unsqueeze(1)` from a sliced constant cache (transformers 4.35 LLaMA). */
const gathered = (name: string) =>
  op(
    "Unsqueeze",
    [
      op(
        "Gather",
        [
          optional(
            op("Cast", [op("Slice", [c(name), any, any, any, any], { shared: true })], {
              shared: true,
            }),
          ),
          v("positionIds"),
        ],
        { shared: true },
      ),
      any,
    ],
    { shared: true },
  );

/** rotate_half(x) = Concat(−x[..., h/2:], x[..., :h/2]). */
const rotateHalf = op(
  "Concat",
  [
    op("Neg", [op("Slice", [v("x"), any, any, any, any], { shared: true })], { shared: true }),
    op("Slice", [v("x"), any, any, any, any], { shared: true }),
  ],
  { shared: true },
);

/** x·cos + rotate_half(x)·sin: apply_rotary_pos_emb for one of Q and K. */
const rotaryPattern = op(
  "Add",
  [
    op("Mul", [v("x"), gathered("cos")], { commutative: true, shared: true }),
    op("Mul", [rotateHalf, gathered("sin")], { commutative: true, shared: true }),
  ],
  { commutative: true, shared: true },
);

export interface Rotary {
  /** The operand before rotation, [b, n, s, h]. */
  readonly input: Value;
  readonly positionIds: Value;
  readonly cos: Tensor;
  readonly sin: Tensor;
}

/** The rotation feeding a [b, n, s, h] operand, when it is rotate-half RoPE over full rows. */
export function rotaryOf(value: Value): Rotary | undefined {
  const match = matchPattern(rotaryPattern, value);
  if (!isMatch(match)) return undefined;
  const x = match.value("x");
  if (!hasPerm(x, [0, 2, 1, 3]) || !halvesSplit(match)) return undefined;
  const cos = match.constant("cos");
  const sin = match.constant("sin");
  if (!duplicatedHalves(cos) || !duplicatedHalves(sin)) return undefined;
  return { input: x, positionIds: match.value("positionIds"), cos, sin };
}

/** Both Slices cut the last axis: x1 = x[..., :half] from 0, x2 = x[..., half:] to the end. */
function halvesSplit(match: Match): boolean {
  const concat = [...match.shared].find((n) => n.opType === "Concat");
  const negSlice = producedBy(concat?.inputs[0]?.producer()?.inputs[0], "Slice");
  const lowSlice = producedBy(concat?.inputs[1], "Slice");
  if (!negSlice || !lowSlice) return false;
  const first = (x: Value | undefined) => {
    const t = constantOf(x);
    return t ? Number(t.toArray()[0]) : undefined;
  };
  const lastAxis = (s: typeof negSlice) => [3, -1].includes(first(s.inputs[3]) ?? 0);
  const toEnd = (first(negSlice.inputs[2]) ?? 0) >= 2 ** 62;
  return lastAxis(negSlice) && lastAxis(lowSlice) && first(lowSlice.inputs[1]) === 0 && toEnd;
}

/** emb = cat(freqs, freqs): each row's two halves are equal, as GQA's half-width cache assumes. */
function duplicatedHalves(cache: Tensor): boolean {
  if (cache.dims.length !== 2 || cache.dataType !== DataType.FLOAT) return false;
  const [rows, width] = cache.dims as [number, number];
  if (width % 2 !== 0) return false;
  const values = cache.toArray() as Float32Array;
  const half = width / 2;
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < half; i++)
      if (values[r * width + i] !== values[r * width + half + i]) return false;
  return true;
}

/** The [max_positions, head/2] cache GQA takes. */
export function halfCache(cache: Tensor, name: string): Tensor {
  const [rows, width] = cache.dims as [number, number];
  const half = width / 2;
  const values = cache.toArray() as Float32Array;
  const out = new Float32Array(rows * half);
  for (let r = 0; r < rows; r++) out.set(values.subarray(r * width, r * width + half), r * half);
  const tensor = Tensor.fromArray(DataType.FLOAT, [rows, half], out);
  tensor.name = name;
  return tensor;
}
