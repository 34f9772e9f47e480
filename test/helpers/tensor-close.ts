import { DataType, dataTypeInfo, type Tensor } from "@lathe/core";

/** The ONNX backend test runner's default tolerances (numpy `assert_allclose`). */
export const RTOL = 1e-3;
export const ATOL = 1e-7;

const FLOATING = new Set([
  DataType.FLOAT,
  DataType.DOUBLE,
  DataType.FLOAT16,
  DataType.BFLOAT16,
  DataType.COMPLEX64,
  DataType.COMPLEX128,
]);

/**
 * Why `actual` does not match `expected`, or undefined when it does: same type and dims, then
 * floating-point elements within |a - e| <= atol + rtol·|e| (default: the suite's ATOL, RTOL) (NaN matches NaN, infinities must
 * match exactly) and every other type (integers, bool, strings) exactly equal.
 */
export function mismatch(
  expected: Tensor,
  actual: Tensor,
  tolerance: { rtol: number; atol: number } = { rtol: RTOL, atol: ATOL },
): string | undefined {
  if (expected.dataType !== actual.dataType) {
    return `type ${dataTypeInfo(actual.dataType).name}, expected ${dataTypeInfo(expected.dataType).name}`;
  }
  if (
    expected.dims.length !== actual.dims.length ||
    expected.dims.some((d, i) => d !== actual.dims[i])
  ) {
    return `dims [${actual.dims.join(", ")}], expected [${expected.dims.join(", ")}]`;
  }
  if (expected.dataType === DataType.STRING) {
    const e = expected.toStrings();
    const a = actual.toStrings();
    const at = e.findIndex((s, i) => s !== a[i]);
    return at < 0
      ? undefined
      : `element ${at} is ${JSON.stringify(a[at])}, expected ${JSON.stringify(e[at])}`;
  }
  const e = expected.toArray();
  const a = actual.toArray();
  const floating = FLOATING.has(expected.dataType);
  let bad = 0;
  let first = -1;
  for (let i = 0; i < e.length; i++) {
    const ok = floating ? close(Number(a[i]), Number(e[i]), tolerance) : a[i] === e[i];
    if (!ok) {
      bad++;
      if (first < 0) first = i;
    }
  }
  return bad === 0
    ? undefined
    : `${bad} of ${e.length} elements differ (first: [${first}] ${a[first]}, expected ${e[first]})`;
}

function close(a: number, e: number, { rtol, atol }: { rtol: number; atol: number }): boolean {
  if (Number.isNaN(e)) return Number.isNaN(a);
  if (!Number.isFinite(e)) return a === e;
  return Math.abs(a - e) <= atol + rtol * Math.abs(e);
}
