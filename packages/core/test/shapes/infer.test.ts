import {
  addDims,
  createBuilder,
  DataType,
  divDims,
  inferShapes,
  mulDims,
  OnnxFunction,
  subDims,
  Value,
} from "@lathe/core";
import { describe, expect, it } from "vitest";

const dimsOf = (v: Value) => (v.type?.kind === "tensor" ? v.type.shape?.dims : undefined);
const elemOf = (v: Value) => (v.type?.kind === "tensor" ? v.type.elemType : undefined);

describe("symbolic dims", () => {
  it("adds, subtracts, multiplies and divides expressions, keeping the order terms came in", () => {
    expect(addDims("seq", "past")).toBe("seq + past");
    expect(subDims(addDims("seq", "past"), "past")).toBe("seq");
    expect(addDims("seq", 1)).toBe("seq + 1");
    expect(subDims("seq", 1)).toBe("seq - 1");
    expect(mulDims("heads", 64)).toBe("64*heads");
    expect(divDims(mulDims("heads", 64), 64)).toBe("heads");
    expect(divDims("seq", 2)).toBeNull();
    expect(divDims(mulDims(mulDims("batch", "seq"), 256), mulDims("batch", "seq"))).toBe(256);
    expect(mulDims("batch", "seq")).toBe("batch*seq");
    expect(addDims("sequence-length", 1)).toBe("(sequence-length) + 1");
    expect(addDims(null, 1)).toBeNull();
  });
});

describe("inferShapes", () => {
  it("propagates batch, seq and past through a decoder step, shape arithmetic included", () => {
    const b = createBuilder({ opset: 17 });
    const x = b.input("x", DataType.FLOAT, ["batch", "seq", 256]);
    const pastKey = b.input("past_key", DataType.FLOAT, ["batch", 4, "past", 64]);
    const w = b.constant(new Float32Array(256 * 256), [256, 256]);
    const q = b.MatMul(x, w);
    // Reshape(q, Concat(Shape(q)[0:2], [4, 64])) as exporters write it, then [B, 4, S, 64]
    const shape = b.Shape(q);
    const bs = b.Slice(shape, b.int64s([0]), b.int64s([2]));
    const heads = b.Reshape(q, b.Concat(bs, b.int64s([4, 64]), { axis: 0 }));
    const k = b.Transpose(heads, { perm: [0, 2, 1, 3] });
    const present = b.Concat(pastKey, k, { axis: 2 });
    const scores = b.MatMul(
      b.Transpose(heads, { perm: [0, 2, 1, 3] }),
      b.Transpose(present, { perm: [0, 1, 3, 2] }),
    );
    const probs = b.Softmax(scores, { axis: -1 });
    // back to [B, S, 256] through Shape(x)[0], Shape(x)[1] gathered and unsqueezed
    const sx = b.Shape(x);
    const batch = b.Unsqueeze(b.Gather(sx, b.scalar(0, DataType.INT64)), b.int64s([0]));
    const seq = b.Unsqueeze(b.Gather(sx, b.scalar(1, DataType.INT64)), b.int64s([0]));
    const flat = b.Reshape(
      b.Transpose(b.MatMul(probs, b.Transpose(present, { perm: [0, 1, 2, 3] })), {
        perm: [0, 2, 1, 3],
      }),
      b.Concat(batch, seq, b.int64s([-1]), { axis: 0 }),
    );
    const mask = b.Less(
      b.Range(
        b.scalar(0, DataType.INT64),
        b.Add(b.Gather(sx, b.scalar(1, DataType.INT64)), b.scalar(1, DataType.INT64)),
        b.scalar(1, DataType.INT64),
      ),
      b.scalar(3, DataType.INT64),
    );
    b.output(flat, "y");
    b.output(present, "present_key");
    b.output(mask, "mask");
    const model = b.build();
    const report = inferShapes(model);
    expect(report.conflicts).toEqual([]);
    expect(report.failures).toEqual([]);
    expect(dimsOf(q)).toEqual(["batch", "seq", 256]);
    expect(dimsOf(heads)).toEqual(["batch", "seq", 4, 64]);
    expect(dimsOf(present)).toEqual(["batch", 4, "past + seq", 64]);
    expect(dimsOf(scores)).toEqual(["batch", 4, "seq", "past + seq"]);
    expect(dimsOf(flat)).toEqual(["batch", "seq", 256]);
    expect(elemOf(mask)).toBe(DataType.BOOL);
    expect(dimsOf(mask)).toEqual(["seq + 1"]); // Range(0, seq + 1, 1)
  });

  it("infers inside If branches and unifies them; Loop bodies get their carried types", () => {
    const b = createBuilder();
    const x = b.input("x", DataType.FLOAT, ["batch", 8]);
    const cond = b.input("cond", DataType.BOOL, []);
    const thenB = createBuilder({ namePrefix: "then" });
    const t = thenB.Relu(x);
    thenB.output(t, "t");
    const elseB = createBuilder({ namePrefix: "else" });
    elseB.output(elseB.Concat(x, x, { axis: 0 }), "e");
    const y = b.If(cond, { then_branch: thenB.graph, else_branch: elseB.graph });
    const body = createBuilder({ namePrefix: "body" });
    body.input("i", DataType.INT64, []);
    const c = body.input("c", DataType.BOOL, []);
    const acc = body.input("acc", DataType.FLOAT);
    body.output(body.Identity(c), "c_out");
    const next = body.Add(acc, x);
    body.output(next, "acc_out");
    body.output(body.ReduceSum(next, { keepdims: 0 }), "scan_out");
    const loop = b.node(
      "Loop",
      [b.int64s([3]), undefined, x],
      { body: body.graph },
      { outputs: 2 },
    );
    b.output(y, "y");
    b.output(loop.outputs[0]!, "final");
    b.output(loop.outputs[1]!, "per_step");
    const model = b.build();
    inferShapes(model);
    expect(dimsOf(t)).toEqual(["batch", 8]);
    expect(dimsOf(y)).toEqual([null, 8]); // batch or 2·batch
    expect(dimsOf(next)).toEqual(["batch", 8]);
    expect(dimsOf(loop.outputs[0]!)).toEqual(["batch", 8]);
    expect(dimsOf(loop.outputs[1]!)).toEqual([3]); // three iterations of a scalar
  });

  it("infers the contrib ops Lathe emits: MatMulNBits, GroupQueryAttention, DynamicQuantizeMatMul", () => {
    const b = createBuilder({ opsets: { "com.microsoft": 1 } });
    const ms = b.domain("com.microsoft");
    const x = b.input("x", DataType.FLOAT, ["batch", "seq", 64]);
    const past = b.input("past_key", DataType.FLOAT, ["batch", 2, "past", 16]);
    const pastV = b.input("past_value", DataType.FLOAT, ["batch", 2, "past", 16]);
    const packed = b.constant(new Uint8Array(128 * 2 * 16), [128, 2, 16], DataType.UINT8);
    const scales = b.constant(new Float32Array(128 * 2), [256]);
    const qkv = ms.MatMulNBits(x, packed, scales, { K: 64, N: 128, bits: 4, block_size: 32 });
    const [q, k, v] = [0, 1, 2].map(() => b.Identity(qkv));
    const gqa = b.node(
      "GroupQueryAttention",
      [
        q,
        k,
        v,
        past,
        pastV,
        b.input("seqlens_k", DataType.INT32, ["batch"]),
        b.input("total", DataType.INT32, []),
      ],
      { num_heads: 8, kv_num_heads: 2 },
      { domain: "com.microsoft", outputs: 3 },
    );
    const dq = ms.DynamicQuantizeMatMul(
      gqa.output,
      b.constant(new Int8Array(128 * 32), [128, 32], DataType.INT8),
      b.constant([0.1], [1]),
    );
    b.output(dq, "y");
    const model = b.build();
    const report = inferShapes(model);
    expect(report.unknownOps).toEqual({});
    expect(dimsOf(qkv)).toEqual(["batch", "seq", 128]);
    expect(dimsOf(gqa.outputs[0]!)).toEqual(["batch", "seq", 128]);
    expect(dimsOf(gqa.outputs[1]!)).toEqual(["batch", 2, "past + seq", 16]);
    expect(dimsOf(dq)).toEqual(["batch", "seq", 32]);
    expect(elemOf(dq)).toBe(DataType.FLOAT);
  });

  it("infers a model-local function per call without writing into the shared body", () => {
    const b = createBuilder({ opsets: { custom: 1 } });
    const x = b.input("x", DataType.FLOAT, ["n", 3]);
    const small = b.op("Double", [x], {}, { domain: "custom" });
    const y = b.op("Double", [b.Cast(x, { to: DataType.DOUBLE })], {}, { domain: "custom" });
    b.output(small, "a");
    b.output(y, "b");
    const model = b.build();
    const body = createBuilder();
    const fx = new Value("fx"); // function parameters carry no type
    body.graph.inputs.push(fx);
    const inner = body.Concat(fx, fx, { axis: 0 });
    body.output(inner, "fy");
    const fn = new OnnxFunction({ domain: "custom", name: "Double", graph: body.graph });
    fn.opsetImports.set("", 21);
    model.functions.set(fn.key, fn);
    inferShapes(model);
    expect(dimsOf(small)).toEqual(["2*n", 3]);
    expect(elemOf(y)).toBe(DataType.DOUBLE);
    expect(inner.type).toBeUndefined();
  });

  it("keeps a declared dim, reports a declared type that contradicts inference, and counts unknown ops", () => {
    const b = createBuilder({ opsets: { "acme.ops": 1 } });
    const x = b.input("x", DataType.FLOAT, [2, 3]);
    const r = b.Relu(x);
    r.type = { kind: "tensor", elemType: DataType.FLOAT, shape: { dims: [2, 4] } };
    const odd = b.op("Mystery", [r], {}, { domain: "acme.ops" });
    b.output(b.Relu(odd), "y");
    const report = inferShapes(b.build());
    expect(report.conflicts).toEqual([
      'value "Relu_output_0" (output of Relu "Relu"): declared FLOAT[2, 4], inferred FLOAT[2, 3]',
    ]);
    expect(report.unknownOps).toEqual({ "acme.ops::Mystery": 1 });
    expect(dimsOf(r)).toEqual([2, 4]);
  });

  it("gives ops without an inference function the element type their schema implies", () => {
    const b = createBuilder({ opset: 18 });
    const x = b.input("x", DataType.DOUBLE, [1, 4, 9]);
    const image = b.Col2Im(x, b.int64s([5, 5]), b.int64s([2, 2]));
    const words = b.StringNormalizer(b.input("s", DataType.STRING, [3]));
    b.output(image, "image");
    b.output(words, "words");
    const report = inferShapes(b.build());
    expect(report.unknownOps).toEqual({ Col2Im: 1, StringNormalizer: 1 });
    expect(image.type).toEqual({ kind: "tensor", elemType: DataType.DOUBLE });
    expect(words.type).toEqual({ kind: "tensor", elemType: DataType.STRING });
  });
});
