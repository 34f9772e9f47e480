import {
  describeProviderShare,
  kernelEvents,
  parseTrace,
  profileModel,
  suggestPasses,
  summarizeProfile,
  type TraceEvent,
} from "@lathe/core";
import { describe, expect, test } from "vitest";
import { gpt2 } from "../../../plugins/zoo/src/index.js";

/** A trace as ORT writes it: session events, then per run a model_run and its node kernels. */
function syntheticTrace(): TraceEvent[] {
  const events: TraceEvent[] = [
    { cat: "Session", name: "model_loading_uri", ts: 0, dur: 50 },
    { cat: "Session", name: "session_initialization", ts: 50, dur: 100 },
  ];
  const kernel = (node: string, op: string, ts: number, dur: number, shapes: number[][]) => ({
    cat: "Node",
    name: `${node}_kernel_time`,
    ts,
    dur,
    args: {
      op_name: op,
      provider: "CPUExecutionProvider",
      input_type_shape: shapes.map((s) => ({ float: s })),
    },
  });
  for (let run = 0; run < 4; run++) {
    const t = 10_000 * (run + 1);
    // The first (warm-up) run is ten times slower: it must not count.
    const k = run === 0 ? 10 : 1;
    // In run 2 the OS took the core away during "add": a median ignores it.
    const stolen = run === 2 ? 5000 : 0;
    events.push({ cat: "Session", name: "model_run", ts: t, dur: 200 * k });
    events.push(
      kernel("qk", "MatMul", t + 1, 30 * k, [
        [1, 4, 8, 16],
        [1, 4, 16, 8],
      ]),
      kernel("softmax", "Softmax", t + 2, 20 * k, [[1, 4, 8, 8]]),
      kernel("av", "MatMul", t + 3, 30 * k, [
        [1, 4, 8, 8],
        [1, 4, 8, 16],
      ]),
      kernel("proj", "MatMul", t + 4, 100 * k, [
        [1, 8, 64],
        [64, 64],
      ]),
      kernel("add", "Add", t + 5, 20 * k + stolen, [[1, 8, 64], [64]]),
      { cat: "Node", name: "add_fence_before", ts: t + 5, dur: 999, args: { op_name: "Add" } },
    );
  }
  return events;
}

describe("profile aggregation", () => {
  test("by node and by op type, the warm-up run left out", () => {
    const summary = summarizeProfile(syntheticTrace(), { skipRuns: 1 });
    expect(summary.runs).toBe(3);
    expect(summary.kernelUs).toBe(600);
    expect(summary.runUs).toBe(600);
    expect(summary.ops.map((o) => [o.opType, o.nodes, o.calls, o.totalUs, o.share])).toEqual([
      ["MatMul", 3, 9, 480, 0.8],
      ["Softmax", 1, 3, 60, 0.1],
      ["Add", 1, 3, 60, 0.1],
    ]);
    expect(summary.nodes[0]).toEqual({
      node: "proj",
      opType: "MatMul",
      provider: "CPUExecutionProvider",
      calls: 3,
      medianUs: 100,
      totalUs: 300,
      share: 0.5,
      inputs: [
        { type: "float", shape: [1, 8, 64] },
        { type: "float", shape: [64, 64] },
      ],
    });
    expect(describeProviderShare(summary.providers)).toBe(
      "all 5 nodes ran on CPUExecutionProvider",
    );
  });

  test("fence events are not kernels; shapes are read", () => {
    const kernels = kernelEvents(syntheticTrace());
    expect(kernels).toHaveLength(20);
    expect(kernels[0]!.inputs).toEqual([
      { type: "float", shape: [1, 4, 8, 16] },
      { type: "float", shape: [1, 4, 16, 8] },
    ]);
  });

  test("suggestions: unfused attention and float MatMuls", () => {
    const events = syntheticTrace();
    const suggestions = suggestPasses(summarizeProfile(events, { skipRuns: 1 }));
    expect(suggestions.map((s) => s.pass)).toEqual([
      "quantize/dynamic-int8",
      "quantize/weight-only",
      "flash-attention/rewrite",
    ]);
    const attention = suggestions.find((s) => s.pass === "flash-attention/rewrite")!;
    expect(attention.share).toBeCloseTo(0.4);
    expect(attention.snippet).toContain("use: flash-attention/rewrite");
    expect(suggestions[0]!.share).toBeCloseTo(0.5);
  });

  test("suggestions for elementwise-bound and Conv-heavy models: what helps, with or without a pass", () => {
    // A recognizer's profile: hard-swish written as Add, Clip, Mul, Div after every Conv (~49 %
    // of node time), float Convs 36 %, Transposes 15 %.
    const events: TraceEvent[] = [];
    const ops: [string, string, number][] = [
      ["conv", "Conv", 36],
      ["add", "Add", 10],
      ["clip", "Clip", 12],
      ["mul", "Mul", 14],
      ["div", "Div", 13],
      ["transpose", "Transpose", 15],
    ];
    for (let run = 0; run < 3; run++) {
      const t = 1000 * (run + 1);
      events.push({ cat: "Session", name: "model_run", ts: t, dur: 120 });
      ops.forEach(([node, op, dur], i) => {
        events.push({
          cat: "Node",
          name: `${node}_kernel_time`,
          ts: t + i + 1,
          dur,
          args: {
            op_name: op,
            provider: "CPUExecutionProvider",
            input_type_shape: [{ float: [1, 16, 8, 32] }],
          },
        });
      });
    }
    const suggestions = suggestPasses(summarizeProfile(events, { skipRuns: 1 }));
    expect(suggestions.map((s) => [s.pass, Math.round(s.share * 100)])).toEqual([
      [undefined, 49],
      ["quantize/static-int8", 36],
      [undefined, 15],
    ]);
    expect(suggestions[0]!.reason).toMatch(/unfused elementwise ops \(Mul, Div, Clip, Add\)/);
    expect(suggestions[0]!.advice).toMatch(/HardSwish.*no elementwise-fusion pass yet/);
    expect(suggestions[1]!.snippet).toContain("use: quantize/static-int8");
    expect(suggestions[2]!.reason).toMatch(/layout ops \(Transpose\)/);
  });

  test("a fused attention op or quantized MatMuls silence the suggestions", () => {
    const events = syntheticTrace().map((e) =>
      e.args?.op_name === "Softmax"
        ? { ...e, args: { ...e.args, op_name: "MultiHeadAttention" } }
        : e.args?.op_name === "MatMul" && e.name.startsWith("proj")
          ? { ...e, args: { ...e.args, op_name: "MatMulNBits" } }
          : e,
    );
    expect(suggestPasses(summarizeProfile(events, { skipRuns: 1 }))).toEqual([]);
  });

  test("a file that is not a trace is refused", () => {
    expect(() => parseTrace({ not: "a trace" }, "x.json")).toThrow(
      /not an ONNX Runtime profile trace/,
    );
    expect(() => parseTrace([{ name: "a" }], "x.json")).toThrow(/event 0 has no name or duration/);
  });
});

describe("profileModel", () => {
  test("zoo gpt2: most node time goes to MatMul/Gemm/Softmax-family ops, all on the CPU", async () => {
    // The tiny preset, widened: at hidden 64 every node costs about the same fixed overhead, and
    // no op type stands out; at 256 the matrix products dominate, as they do in real models.
    const config = { ...gpt2.presets.tiny, hidden: 256, vocab: 2000, positions: 256 };
    const model = gpt2.build(config, { seed: 0 }).components.get("model")!;
    const result = await profileModel(model, {
      target: { providers: ["cpu"], threads: 1, shapes: { input_ids: [1, 256] } },
      runs: 5,
    });
    expect(result.provider).toBe("cpu");
    expect(result.placement).toMatch(/^all \d+ nodes ran on CPUExecutionProvider$/);
    expect(result.summary.runs).toBe(5);
    expect(result.shapes).toEqual({
      input_ids: [1, 256],
      attention_mask: [1, 256],
      position_ids: [1, 256],
    });
    const family = /MatMul|Gemm|Softmax|Attention/;
    const share = result.summary.ops
      .filter((o) => family.test(o.opType))
      .reduce((sum, o) => sum + o.share, 0);
    expect(share).toBeGreaterThan(0.5);
    expect(result.summary.ops[0]!.opType).toMatch(family);
    expect(result.suggestions.map((s) => s.pass)).toContain("quantize/dynamic-int8");
    expect(result.suggestions[0]!.snippet).toMatch(/^passes:\n/);
  });
});
