import { DataType, recordMismatch, Tensor } from "@lathe/core";
import { describe, expect, test } from "vitest";

const zeros = (type: DataType, dims: number[]) =>
  Tensor.fromArray(type, dims, new Array(dims.reduce((a, b) => a * b, 1)).fill(0));

describe("recordMismatch", () => {
  const image = { name: "x", dataType: DataType.FLOAT, dims: [1, 3, 4, 4] };

  test("a fitting record, symbolic and unknown dims matching any size, extra arrays", () => {
    const record = { x: zeros(DataType.FLOAT, [1, 3, 4, 4]), label: zeros(DataType.INT64, [1]) };
    expect(recordMismatch(record, [image])).toBeUndefined();
    expect(
      recordMismatch(record, [
        { name: "x", dataType: DataType.FLOAT, dims: ["batch", 3, null, 4] },
      ]),
    ).toBeUndefined();
  });

  test("each kind of mismatch says what differs and what to set", () => {
    const cases: [Record<string, Tensor>, RegExp, RegExp][] = [
      [
        { pixels: zeros(DataType.FLOAT, [1, 3, 4, 4]) },
        /hold "pixels", but the model reads "x"/,
        /input: x/,
      ],
      [
        { x: zeros(DataType.FLOAT16, [1, 3, 4, 4]) },
        /\[1, 3, 4, 4\] float16, but the model reads \[1, 3, 4, 4\] float32/,
        /dtype/,
      ],
      [
        { x: zeros(DataType.FLOAT, [1, 4, 4, 3]) },
        /dim 1 is 4, the model's is 3/,
        /layout: NHWC or NCHW/,
      ],
      [{ x: zeros(DataType.FLOAT, [1, 1, 4, 4]) }, /dim 1 is 1, the model's is 3/, /channels: rgb/],
      [
        { x: zeros(DataType.FLOAT, [1, 3, 8, 8]) },
        /dim 2 is 8, the model's is 4/,
        /resize: and crop:/,
      ],
      [{ x: zeros(DataType.FLOAT, [3, 4, 4]) }, /3 dims for 4/, /layout:/],
    ];
    for (const [record, detail, hint] of cases) {
      const problem = recordMismatch(record, [image]);
      expect(problem?.detail).toMatch(detail);
      expect(problem?.hint).toMatch(hint);
    }
    const gray = recordMismatch({ x: zeros(DataType.FLOAT, [1, 3, 4, 4]) }, [
      { ...image, dims: [1, 1, 4, 4] },
    ]);
    expect(gray?.hint).toMatch(/channels: gray/);
    const audio = recordMismatch({ a: zeros(DataType.FLOAT, [1, 8]) }, [
      { name: "a", dataType: DataType.FLOAT, dims: [1, 16] },
    ]);
    expect(audio?.hint).toMatch(/window or maxLength/);
  });
});
