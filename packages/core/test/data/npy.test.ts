import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { crc32, deflateRawSync } from "node:zlib";
import { DataType, encodeNpy, isLatheError, parseNpy, parseNpz, Tensor } from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, afterEach, describe, expect, test } from "vitest";

const tempDir = tempDirs(afterEach);

/** A .npy written by hand: the header padded so the data starts on a multiple of 64. */
function npy(
  descr: string,
  shape: number[],
  data: Uint8Array,
  version = 1,
  fortran = false,
): Uint8Array {
  const dict = `{'descr': '${descr}', 'fortran_order': ${fortran ? "True" : "False"}, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  const prefix = version === 1 ? 10 : 12;
  const total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  const header = `${dict.padEnd(total - prefix - 1, " ")}\n`;
  const out = new Uint8Array(total + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(new TextEncoder().encode(header), prefix);
  out.set(data, total);
  return out;
}

/** A zip with one local header + central entry per member (method 0 stored, 8 deflated). */
function zip(members: { name: string; data: Uint8Array; method: 0 | 8 }[]): Uint8Array {
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const m of members) {
    const name = new TextEncoder().encode(m.name);
    const body = m.method === 8 ? new Uint8Array(deflateRawSync(m.data)) : m.data;
    const crc = crc32(m.data);
    const local = new Uint8Array(30 + name.length + body.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(8, m.method, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, m.data.length, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    local.set(body, 30 + name.length);
    const central = new Uint8Array(46 + name.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(10, m.method, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, body.length, true);
    cv.setUint32(24, m.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    central.set(name, 46);
    locals.push(local);
    centrals.push(central);
    offset += local.length;
  }
  const centralSize = centrals.reduce((s, c) => s + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, members.length, true);
  ev.setUint16(10, members.length, true);
  ev.setUint32(12, centralSize, true);
  ev.setUint32(16, offset, true);
  return Buffer.concat([...locals, ...centrals, end]);
}

const f32 = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return isLatheError(e) ? `${e.code} ${e.where}: ${e.message}` : String(e);
  }
  return "parsed";
};

describe("parseNpy (hand-written files)", () => {
  test("format 1 and 2 headers, little-endian float32", () => {
    for (const version of [1, 2]) {
      const t = parseNpy(npy("<f4", [2, 2], f32([1, 2, 3, 4]), version), "a.npy", "x");
      expect([t.dataType, t.dims, t.name]).toEqual([DataType.FLOAT, [2, 2], "x"]);
      expect([...(t.toArray() as Float32Array)]).toEqual([1, 2, 3, 4]);
    }
  });

  test("big-endian int64, bool, a 1-d shape and a scalar", () => {
    const be = new Uint8Array(16);
    new DataView(be.buffer).setBigInt64(0, -5n, false);
    new DataView(be.buffer).setBigInt64(8, 1n << 40n, false);
    const ints = parseNpy(npy(">i8", [2], be), "b.npy");
    expect([...(ints.toArray() as BigInt64Array)]).toEqual([-5n, 1n << 40n]);
    const bools = parseNpy(npy("|b1", [3], new Uint8Array([1, 0, 1])), "c.npy");
    expect(bools.dataType).toBe(DataType.BOOL);
    const scalar = parseNpy(npy("<f4", [], f32([7])), "d.npy");
    expect(scalar.dims).toEqual([]);
  });

  test("Fortran order comes out in C order", () => {
    // [[1, 2, 3], [4, 5, 6]] stored column by column.
    const t = parseNpy(npy("<f4", [2, 3], f32([1, 4, 2, 5, 3, 6]), 1, true), "f.npy");
    expect([...(t.toArray() as Float32Array)]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test("truncated, foreign and corrupt files are refused, naming the file", () => {
    const good = npy("<f4", [2, 2], f32([1, 2, 3, 4]));
    expect(code(() => parseNpy(good.subarray(0, good.length - 3), "cut.npy"))).toBe(
      "DATA_FILE_INVALID cut.npy: not a valid .npy file: the data is cut short: 13 bytes where shape (2, 2) of float32 needs 16",
    );
    expect(code(() => parseNpy(good.subarray(0, 20), "head.npy"))).toMatch(
      /head\.npy: .*header is cut short/,
    );
    expect(
      code(() => parseNpy(new TextEncoder().encode("PK\u0003\u0004 not npy"), "z.npy")),
    ).toMatch(/z\.npy: .*\\x93NUMPY magic/);
    expect(code(() => parseNpy(npy("<c8", [1], new Uint8Array(8)), "c.npy"))).toMatch(
      /dtype '<c8' has no ONNX counterpart/,
    );
    expect(code(() => parseNpy(npy("O", [1], new Uint8Array(8)), "o.npy"))).toMatch(/dtype 'O'/);
  });
});

describe("parseNpz (hand-written archives)", () => {
  const ids = npy("<i8", [1, 3], new Uint8Array(BigInt64Array.from([5n, 6n, 7n]).buffer));
  const x = npy("<f4", [2], f32([0.5, -1]));

  test("stored and deflated members, named after the member less .npy", () => {
    for (const method of [0, 8] as const) {
      const arrays = parseNpz(
        zip([
          { name: "input_ids.npy", data: ids, method },
          { name: "x.npy", data: x, method },
        ]),
        "a.npz",
      );
      expect(Object.keys(arrays)).toEqual(["input_ids", "x"]);
      expect([...(arrays.input_ids!.toArray() as BigInt64Array)]).toEqual([5n, 6n, 7n]);
      expect([...(arrays.x!.toArray() as Float32Array)]).toEqual([0.5, -1]);
    }
  });

  test("a truncated or damaged archive is refused", () => {
    const good = zip([{ name: "x.npy", data: x, method: 8 }]);
    expect(code(() => parseNpz(good.subarray(0, good.length - 30), "cut.npz"))).toMatch(
      /^DATA_FILE_INVALID cut\.npz: not a valid \.npz file: no zip end-of-central-directory record/,
    );
    const damaged = Uint8Array.from(good);
    damaged[40]! ^= 0xff; // inside the deflated data
    expect(code(() => parseNpz(damaged, "bad.npz"))).toMatch(
      /bad\.npz: .*member "x\.npy" (does not inflate|fails its size or CRC-32 check)/,
    );
  });
});

const python = "/usr/bin/python3";
const numpy =
  existsSync(python) &&
  spawnSync(python, ["-c", "import numpy"], { encoding: "utf8" }).status === 0;
if (!numpy)
  console.warn("numpy-written file tests skipped: /usr/bin/python3 with numpy is not installed");

describe.skipIf(!numpy)("files written by numpy", () => {
  const dir = tempDirs(afterAll)("lathe-npy-");
  const script = `
import numpy as np
d = ${JSON.stringify(dir)}
np.save(d + "/f32.npy", np.arange(12, dtype=np.float32).reshape(3, 4) / 4)
np.save(d + "/f16.npy", np.array([[0.5, -2.0, 65504.0]], dtype=np.float16))
np.save(d + "/i64.npy", np.array([[1, -2, 2**40]], dtype=np.int64))
np.save(d + "/i32be.npy", np.array([1, 2, 3], dtype=">i4"))
np.save(d + "/u8.npy", np.array([0, 255], dtype=np.uint8))
np.save(d + "/bool.npy", np.array([True, False, True]))
np.save(d + "/fortran.npy", np.asfortranarray(np.arange(24, dtype=np.float64).reshape(2, 3, 4)))
np.save(d + "/scalar.npy", np.float32(3.5))
np.savez(d + "/plain.npz", input_ids=np.array([[3, 1, 4]], dtype=np.int64), mask=np.ones((1, 3), dtype=np.int64))
np.savez_compressed(d + "/packed.npz", x=np.linspace(-1, 1, 1000, dtype=np.float32).reshape(10, 100))
`;

  const ran = spawnSync(python, ["-c", script], { encoding: "utf8" });
  const read = (name: string) => parseNpy(new Uint8Array(readFileSync(join(dir, name))), name);
  const values = (name: string) => Array.from(read(name).toArray() as ArrayLike<number>);

  test("numpy wrote the files", () => {
    expect(ran.stderr).toBe("");
    expect(ran.status).toBe(0);
  });

  test("every dtype and layout reads back as numpy wrote it", () => {
    expect(read("f32.npy").dims).toEqual([3, 4]);
    expect(values("f32.npy")).toEqual(Array.from({ length: 12 }, (_, i) => i / 4));
    expect(values("f16.npy")).toEqual([0.5, -2, 65504]);
    expect([...(read("i64.npy").toArray() as BigInt64Array)]).toEqual([1n, -2n, 1n << 40n]);
    expect(values("i32be.npy")).toEqual([1, 2, 3]);
    expect(values("u8.npy")).toEqual([0, 255]);
    expect(read("bool.npy").dataType).toBe(DataType.BOOL);
    expect(values("fortran.npy")).toEqual(Array.from({ length: 24 }, (_, i) => i));
    expect(read("fortran.npy").dims).toEqual([2, 3, 4]);
    expect(read("scalar.npy").dims).toEqual([]);
  });

  test("savez and savez_compressed archives", () => {
    const plain = parseNpz(new Uint8Array(readFileSync(join(dir, "plain.npz"))), "plain.npz");
    expect(Object.keys(plain).sort()).toEqual(["input_ids", "mask"]);
    expect([...(plain.input_ids!.toArray() as BigInt64Array)]).toEqual([3n, 1n, 4n]);
    const packed = parseNpz(new Uint8Array(readFileSync(join(dir, "packed.npz"))), "packed.npz");
    const x = [...(packed.x!.toArray() as Float32Array)];
    expect(packed.x!.dims).toEqual([10, 100]);
    expect(x[0]).toBe(-1);
    expect(x[999]).toBe(1);
  });

  test("a numpy file cut short is refused", () => {
    const bytes = readFileSync(join(dir, "packed.npz"));
    writeFileSync(join(dir, "cut.npz"), bytes.subarray(0, bytes.length >> 1));
    expect(
      code(() => parseNpz(new Uint8Array(readFileSync(join(dir, "cut.npz"))), "cut.npz")),
    ).toMatch(/^DATA_FILE_INVALID cut\.npz/);
  });
});

describe("encodeNpy", () => {
  test("writes what parseNpy and numpy read back", () => {
    const tensor = Tensor.fromArray(DataType.FLOAT, [2, 3], [1, -2, 3.5, 0, 1e-3, 7]);
    const bytes = encodeNpy(tensor);
    expect((10 + new DataView(bytes.buffer).getUint16(8, true)) % 64).toBe(0);
    const back = parseNpy(bytes, "x.npy");
    expect(back.dims).toEqual([2, 3]);
    expect([...(back.toArray() as Float32Array)]).toEqual([...(tensor.toArray() as Float32Array)]);
    const python = "/usr/bin/python3";
    if (!existsSync(python)) return;
    const dir = tempDir("lathe-npy-");
    writeFileSync(join(dir, "a.npy"), bytes);
    const run = spawnSync(
      python,
      [
        "-c",
        "import numpy,sys; a=numpy.load(sys.argv[1]); print(a.shape, a.dtype, round(float(a.sum()), 4))",
        join(dir, "a.npy"),
      ],
      { encoding: "utf8" },
    );
    if (run.status === 0) expect(run.stdout.trim()).toBe("(2, 3) float32 9.501");
  });
});
