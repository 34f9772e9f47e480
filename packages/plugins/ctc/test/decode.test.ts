import { describe, expect, it } from "vitest";
import {
  alphabetFromLines,
  ctcGreedyDecode,
  dictionaryLines,
  editDistance,
  scoreLines,
} from "../src/decode.js";

/** One-hot scores [rows, steps, classes] from class indices per step. */
function scores(rows: number[][], classes: number): { values: Float32Array; dims: number[] } {
  const steps = rows[0]!.length;
  const values = new Float32Array(rows.length * steps * classes);
  rows.forEach((row, r) => {
    row.forEach((c, t) => {
      values[(r * steps + t) * classes + c] = 1;
    });
  });
  return { values, dims: [rows.length, steps, classes] };
}

describe("CTC greedy decoding", () => {
  const alphabet = alphabetFromLines(["a", "b", "e"], { append: [" "] }); // 0 blank, 1 a, 2 b, 3 e, 4 space

  it("merges repeats, drops blanks, and a blank between repeats keeps both", () => {
    const { values, dims } = scores(
      [
        [1, 1, 0, 2, 2, 2, 0, 0],
        [3, 3, 0, 3, 4, 1, 0, 2],
      ],
      5,
    );
    expect(ctcGreedyDecode(values, dims, alphabet)).toEqual(["ab", "ee ab"]);
  });

  it("reads the argmax of logits as well as of probabilities", () => {
    const logits = Float32Array.from([-1, 5, 0, 0, 0, 2, -3, 9, 1, 1]);
    expect(ctcGreedyDecode(logits, [1, 2, 5], alphabet)).toEqual(["ab"]);
  });

  it("places the blank where the model has it", () => {
    const last = alphabetFromLines(["x", "y"], { blank: 2 });
    expect(last.symbols).toEqual(["x", "y", ""]);
    const { values, dims } = scores([[0, 2, 0, 1, 2]], 3);
    expect(ctcGreedyDecode(values, dims, last)).toEqual(["xxy"]);
  });

  it("refuses scores whose classes do not match the alphabet", () => {
    expect(() => ctcGreedyDecode(new Float32Array(6), [1, 2, 3], alphabet)).toThrow(
      /3 classes, the alphabet 5/,
    );
    expect(() => ctcGreedyDecode(new Float32Array(6), [2, 3], alphabet)).toThrow(
      /\[rows, steps, classes\]/,
    );
  });

  it("reads dictionary files with or without a final newline", () => {
    expect(dictionaryLines("a\nb\n")).toEqual(["a", "b"]);
    expect(dictionaryLines("a\r\nb")).toEqual(["a", "b"]);
  });
});

describe("character error rate", () => {
  it("edit distance by code point", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("日本", "日本語")).toBe(1);
  });

  it("sums edits over the truth's characters, and counts exact lines", () => {
    const score = scoreLines(["coffe Button", "river"], ["coffee Button", "river"]);
    expect(score.cer).toBeCloseTo(1 / 18);
    expect(score.exact).toBe(0.5);
    expect(score.count).toBe(2);
    expect(() => scoreLines(["a"], [])).toThrow(/1 recognized lines for 0 labels/);
  });
});
