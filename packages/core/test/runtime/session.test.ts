import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  createBuilder,
  createSessionFactory,
  DataType,
  encodeModel,
  isLatheError,
  openSession,
  providerShare,
  saveBundle,
  Tensor,
} from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterEach, describe, expect, test } from "vitest";

/** y = x * 2 + 1 over [batch, 3]. */
function affine() {
  const b = createBuilder({ opset: 17 });
  const x = b.input("x", DataType.FLOAT, ["batch", 3]);
  const y = b.op("Add", [b.op("Mul", [x, b.scalar(2)]), b.scalar(1)]);
  b.output(y, "y", DataType.FLOAT, ["batch", 3]);
  return b.build();
}

const input = { x: Tensor.fromArray(DataType.FLOAT, [2, 3], [0, 1, 2, 3, 4, 5]) };

const tempDir = tempDirs(afterEach);

describe("openSession", () => {
  test("runs an in-memory model and a file on the CPU, with its signature", async () => {
    const dir = tempDir("lathe-session-");
    const file = join(dir, "affine.onnx");
    writeFileSync(file, encodeModel(affine()));
    for (const model of [affine(), file]) {
      const session = await openSession(model);
      expect(session.provider).toBe("cpu");
      expect(session.notes).toEqual([]);
      expect(session.inputs).toEqual([{ name: "x", dataType: DataType.FLOAT, dims: ["batch", 3] }]);
      const out = await session.run(input);
      expect([...(out.y!.toArray() as Float32Array)]).toEqual([1, 3, 5, 7, 9, 11]);
      await session.release();
    }
  });

  test("a bundle folder opens the named component, or its only one", async () => {
    const dir = tempDir("lathe-bundle-");
    await saveBundle(
      {
        components: new Map([
          ["first", affine()],
          ["second", affine()],
        ]),
        metadata: {},
      },
      dir,
    );
    const session = await openSession(dir, { component: "second" });
    expect((await session.run(input)).y!.dims).toEqual([2, 3]);
    await session.release();
    const error = await openSession(dir).catch((e) => e);
    expect(isLatheError(error)).toBe(true);
    expect(error.message).toBe("the bundle has 2 components");
    expect(error.hint).toMatch(/first, second/);
  });

  test("cuda is not installed here: the error names the fix", async () => {
    const error = await openSession(affine(), { target: { providers: ["cuda"] } }).catch((e) => e);
    expect(isLatheError(error)).toBe(true);
    expect(error.code).toBe("PROVIDER_UNAVAILABLE");
    expect(error.message).toMatch(/"cuda" is not available/);
    expect(error.hint).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12/);
    expect(error.hint).toMatch(/pnpm-workspace\.yaml/);
  });

  test("fallback: true runs on the next provider and says so", async () => {
    const warnings: string[] = [];
    const session = await openSession(affine(), {
      target: { providers: ["cuda", "cpu"], fallback: true },
      profile: true,
      logger: { warn: (m) => warnings.push(m), info: () => {} },
    });
    expect(session.provider).toBe("cpu");
    expect(session.notes).toHaveLength(1);
    expect(session.notes[0]).toMatch(/^cuda unavailable .*fell back to cpu/);
    expect(warnings).toEqual(session.notes);
    const out = await session.run(input);
    expect(out.y!.dims).toEqual([2, 3]);
    // The trace says where the nodes ran.
    const trace = await session.endProfiling();
    expect(trace).toBeDefined();
    const shares = providerShare(trace!);
    expect(shares.map((s) => s.provider)).toEqual(["CPUExecutionProvider"]);
    expect(shares[0]!.nodes).toBeGreaterThan(0);
    await session.release();
  });

  test("without fallback the first unavailable provider is an error even when another follows", async () => {
    const error = await openSession(affine(), { target: { providers: ["tensorrt", "cpu"] } }).catch(
      (e) => e,
    );
    expect(error.code).toBe("PROVIDER_UNAVAILABLE");
    expect(error.message).toMatch(/tensorrt/);
  });

  test("webgpu without a GPU names Vulkan, or runs where there is one", async () => {
    const result = await openSession(affine(), { target: { providers: ["webgpu"] } }).then(
      async (s) => {
        await s.release();
        return "ran";
      },
      (e) => e,
    );
    if (result !== "ran") {
      expect(result.code).toBe("PROVIDER_UNAVAILABLE");
      expect(result.hint).toMatch(/Vulkan/);
    }
  });

  test("graph optimization levels give the same numbers", async () => {
    for (const level of ["disabled", "basic", "extended", "all"] as const) {
      const session = await openSession(affine(), { graphOptimizationLevel: level });
      const out = await session.run(input, ["y"]);
      expect([...(out.y!.toArray() as Float32Array)]).toEqual([1, 3, 5, 7, 9, 11]);
      await session.release();
    }
  });
});

describe("createSessionFactory", () => {
  test("run() takes many records; open() keeps one session for many batches", async () => {
    const factory = createSessionFactory({ providers: ["cpu"], threads: 1 });
    const results = await factory.run(affine(), [input, input]);
    expect(results).toHaveLength(2);
    const session = await factory.open(affine());
    for (let i = 0; i < 3; i++) {
      const x = Tensor.fromArray(DataType.FLOAT, [1, 3], [i, i, i]);
      const out = await session.run({ x });
      expect([...(out.y!.toArray() as Float32Array)]).toEqual([2 * i + 1, 2 * i + 1, 2 * i + 1]);
    }
    await session.release();
  });

  test("the factory carries the target's fallback", async () => {
    const factory = createSessionFactory({ providers: ["cuda", "cpu"], fallback: true });
    const session = await factory.open(affine());
    expect(session.provider).toBe("cpu");
    expect(session.notes.join()).toMatch(/fell back to cpu/);
    await session.release();
  });
});
