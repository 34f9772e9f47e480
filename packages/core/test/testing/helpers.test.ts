import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createBuilder, DataType, encodeModel, saveModel, Tensor } from "@lathe/core";
import {
  boolTensor,
  float32Tensor,
  floatOutput,
  floatValues,
  int64Rows,
  int64Tensor,
  maxOutputDiff,
  opCounts,
  randomFloat32Tensor,
  randomFloats,
  runFloat,
  runFloats,
  runOnOrt,
  tempDirs,
  withOrtSession,
  withTempDir,
} from "@lathe/core/testing";
import { afterAll, describe, expect, it } from "vitest";

/** y = x · 2 where the flag holds, else x; ids passed through as float. */
function model() {
  const b = createBuilder({ opset: 21 });
  const x = b.input("x", DataType.FLOAT, [2, 3]);
  const flag = b.input("flag", DataType.BOOL, []);
  const ids = b.input("ids", DataType.INT64, [1, 2]);
  const doubled = b.Mul(x, b.constant([2], []));
  b.output(b.Where(flag, doubled, x), "y");
  b.output(b.Cast(ids, { to: DataType.FLOAT }), "ids_float");
  return b.build();
}

const feeds = {
  x: float32Tensor([1, -2, 3, 0.5, 0, -1], [2, 3]),
  flag: boolTensor([true], []),
  ids: int64Rows([[7, 9]]),
};

describe("@lathe/core/testing ORT runners", () => {
  it("runs a Model, its bytes and its file alike and returns float outputs by name", async () => {
    const fromModel = await runFloats(model(), feeds);
    expect(Array.from(fromModel.y!)).toEqual([2, -4, 6, 1, 0, -2]);
    expect(Array.from(fromModel.ids_float!)).toEqual([7, 9]);
    expect(await runFloats(encodeModel(model()), feeds)).toEqual(fromModel);
    await withTempDir(async (dir) => {
      const path = join(dir, "model.onnx");
      await saveModel(model(), path);
      expect(await runFloat(path, feeds, "y")).toEqual(fromModel.y);
    });
  });

  it("takes IR tensors and { data, dims } arrays as feeds", async () => {
    const y = await runFloat(
      model(),
      {
        x: Tensor.fromArray(DataType.FLOAT, [2, 3], [1, 2, 3, 4, 5, 6]),
        flag: boolTensor([false], []),
        ids: { data: BigInt64Array.from([1n, 2n]), dims: [1, 2] },
      },
      "y",
    );
    expect(Array.from(y)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("names a missing or non-float output", async () => {
    const outputs = await runOnOrt(model(), feeds);
    expect(() => floatOutput(outputs, "z")).toThrow('the run has no output "z"');
    const ints = await withOrtSession(
      (() => {
        const b = createBuilder({ opset: 21 });
        b.output(b.Identity(b.input("ids", DataType.INT64, [1, 2])), "same");
        return b.build();
      })(),
      (session) => session.run({ ids: int64Tensor([3, 4], [1, 2]) }),
    );
    expect(() => floatOutput(ints, "same")).toThrow('output "same" is not float32');
  });

  it("measures the largest difference of two runs, NaN as Infinity, masked entries skipped", async () => {
    const a = await runOnOrt(model(), feeds);
    const b = await runOnOrt(model(), { ...feeds, flag: boolTensor([false], []) });
    // y differs by |2x − x| = |x|, largest 3; ids_float is equal
    expect(maxOutputDiff(a, b)).toBe(3);
    expect(maxOutputDiff(a, b, (output, index) => output !== "y" || index !== 2)).toBe(2);
    const nan = await runOnOrt(model(), {
      ...feeds,
      x: float32Tensor([Number.NaN, 0, 0, 0, 0, 0], [2, 3]),
    });
    expect(maxOutputDiff(a, nan)).toBe(Number.POSITIVE_INFINITY);
  });

  it("reads float16 outputs as numbers and refuses integer ones", async () => {
    const b = createBuilder({ opset: 21 });
    b.output(b.Cast(b.input("x", DataType.FLOAT, [3]), { to: DataType.FLOAT16 }), "half");
    const out = await runOnOrt(b.build(), { x: float32Tensor([1, -0.5, 65504], [3]) });
    expect(Array.from(floatValues(out.half!))).toEqual([1, -0.5, 65504]);
    expect(() => floatValues(int64Tensor([1], [1]))).toThrow(
      "a tensor of type int64 has no float values",
    );
  });

  it("draws the same random floats for the same seed, in [-1, 1)", () => {
    const values = randomFloats(1000, 7);
    expect(values).toEqual(randomFloats(1000, 7));
    expect(values).not.toEqual(randomFloats(1000, 8));
    expect(Math.min(...values)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...values)).toBeLessThan(1);
    const tensor = randomFloat32Tensor([4, 250], 7);
    expect(tensor.dims).toEqual([4, 250]);
    expect(tensor.data).toEqual(values);
  });

  it("counts a graph's op types", () => {
    expect(opCounts(model())).toEqual({ Mul: 1, Where: 1, Cast: 1 });
  });
});

describe("@lathe/core/testing temporary folders", () => {
  const made: string[] = [];
  // A hook that runs its cleanup on demand stands in for afterEach.
  let cleanup: (() => Promise<void>) | undefined;
  const tempDir = tempDirs((fn) => {
    cleanup = fn;
  });

  it("makes distinct folders and removes them all when the hook runs", async () => {
    const [a, b] = [tempDir("lathe-helpers-"), tempDir()];
    made.push(a, b);
    expect(a).not.toBe(b);
    writeFileSync(join(a, "file.txt"), "x");
    expect(existsSync(join(a, "file.txt"))).toBe(true);
    await cleanup!();
    expect(existsSync(a) || existsSync(b)).toBe(false);
  });

  it("removes withTempDir's folder when the body throws", async () => {
    let seen = "";
    await expect(
      withTempDir((dir) => {
        seen = dir;
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(seen).not.toBe("");
    expect(existsSync(seen)).toBe(false);
  });

  afterAll(() => {
    for (const dir of made) expect(existsSync(dir)).toBe(false);
  });
});
