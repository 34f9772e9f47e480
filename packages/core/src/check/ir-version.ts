/**
 * The IR version each default-domain opset was released with (onnx/onnx `onnx/helper.py`
 * VERSION_TABLE): a model importing opset N should declare at least this IR version.
 */
const FIRST_IR_OF_OPSET: readonly [opset: number, ir: number][] = [
  [1, 3],
  [9, 4],
  [10, 5],
  [11, 6],
  [12, 7],
  [15, 8],
  [19, 9],
  [21, 10],
  [23, 11],
  [24, 12],
  [25, 13],
];

/** The newest IR version this table knows (ONNX 1.20+). */
export const NEWEST_KNOWN_IR_VERSION = 13;

/** The lowest IR version consistent with importing `opset` of the default domain. */
export function minimumIrVersion(opset: number): number {
  let ir = 3;
  for (const [since, version] of FIRST_IR_OF_OPSET) if (opset >= since) ir = version;
  return ir;
}
