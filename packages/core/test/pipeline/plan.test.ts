import { join } from "node:path";
import {
  formatPlanMermaid,
  formatPlanText,
  isLatheError,
  loadPlugins,
  type PassGraph,
  type PluginRegistry,
  planRecipe,
  planToJson,
} from "@lathe/core";
import { tempDirs } from "@lathe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeRecipe, type Steps, TEST_PLUGIN } from "./recipe-fixture.js";

let dir: string;

const tempDir = tempDirs(afterAll);
let registry: PluginRegistry;

beforeAll(async () => {
  dir = tempDir("lathe-plan-");
  registry = await loadPlugins([TEST_PLUGIN], dir);
});

const rename = "test/rename-nodes";
const scale = "test/scale-output";

async function plan(steps: Steps): Promise<PassGraph> {
  return planRecipe(await makeRecipe(dir, steps), registry);
}

/** Each enabled step as `id<-input`, in plan order; `model` is the recipe's input. */
function edges(graph: PassGraph): string[] {
  return graph.steps.map((s) => `${s.id}<-${s.input ?? "model"}`);
}

describe("planRecipe builds the pass graph", () => {
  const valid: { name: string; steps: Steps; edges: string[]; candidates: string[] }[] = [
    {
      name: "a linear chain reads the previous step",
      steps: { a: { use: rename }, b: { use: scale }, c: { use: rename } },
      edges: ["a<-model", "b<-a", "c<-b"],
      candidates: ["c"],
    },
    {
      name: "two steps reading one input are branches, each a candidate",
      steps: { a: { use: rename }, b: { use: scale }, c: { use: scale, input: "a" } },
      edges: ["a<-model", "b<-a", "c<-a"],
      candidates: ["b", "c"],
    },
    {
      name: "input: model branches from the recipe's input",
      steps: { a: { use: rename }, b: { use: scale, input: "model" } },
      edges: ["a<-model", "b<-model"],
      candidates: ["a", "b"],
    },
    {
      name: "an input: naming a later step moves the reader after it",
      steps: { a: { use: rename, input: "b" }, b: { use: scale, input: "model" } },
      edges: ["b<-model", "a<-b"],
      candidates: ["a"],
    },
    {
      name: "a step reading a disabled step reads what that one read",
      steps: { a: { use: rename }, b: { use: scale, enabled: false }, c: { use: rename } },
      edges: ["a<-model", "c<-a"],
      candidates: ["c"],
    },
    {
      name: "a chain of disabled steps is passed through to the input",
      steps: {
        a: { use: rename, enabled: false },
        b: { use: scale, enabled: false },
        c: { use: rename, input: "b" },
      },
      edges: ["c<-model"],
      candidates: ["c"],
    },
    {
      name: "a disabled leaf leaves its input as the candidate",
      steps: { a: { use: rename }, b: { use: scale, enabled: false } },
      edges: ["a<-model"],
      candidates: ["a"],
    },
  ];
  for (const { name, steps, edges: expected, candidates } of valid) {
    it(name, async () => {
      const graph = await plan(steps);
      expect(edges(graph)).toEqual(expected);
      expect(graph.candidates).toEqual(candidates);
    });
  }

  it("records disabled steps with what they would read", async () => {
    const graph = await plan({ a: { use: rename }, b: { use: scale, enabled: false } });
    expect(graph.disabled).toEqual([{ id: "b", passId: scale, input: "a" }]);
  });

  it("knows each step's readers and its pass and plugin", async () => {
    const graph = await plan({
      a: { use: rename },
      b: { use: scale },
      c: { use: scale, input: "a" },
    });
    const a = graph.steps[0]!;
    expect(a.readers).toEqual(["b", "c"]);
    expect(a.pass.id).toBe(rename);
    expect(a.plugin.meta.name).toBe("lathe-plugin-test");
  });
});

describe("planRecipe rejects broken graphs before any model is loaded", () => {
  const invalid: {
    name: string;
    steps: Steps;
    code: string;
    message: RegExp;
    where: string;
    hint?: RegExp;
  }[] = [
    {
      name: "a dangling input",
      steps: { a: { use: rename }, b: { use: scale, input: "nope" } },
      code: "STEP_INPUT_UNKNOWN",
      message: /step "b" reads "nope", which is not a step/,
      where: "passes.b.input",
    },
    {
      name: "a misspelled input, with a suggestion",
      steps: { quant: { use: rename }, b: { use: scale, input: "qaunt" } },
      code: "STEP_INPUT_UNKNOWN",
      message: /reads "qaunt"/,
      where: "passes.b.input",
      hint: /did you mean "quant"/,
    },
    {
      name: "a two-step cycle",
      steps: { a: { use: rename, input: "b" }, b: { use: scale } },
      code: "STEP_CYCLE",
      message: /cycle: a → b → a/,
      where: "passes.a.input",
    },
    {
      name: "a step reading itself",
      steps: { a: { use: rename }, b: { use: scale, input: "b" } },
      code: "STEP_CYCLE",
      message: /cycle: b → b/,
      where: "passes.b.input",
    },
    {
      name: "a three-step cycle through a disabled step",
      steps: {
        a: { use: rename, input: "c" },
        b: { use: scale, enabled: false },
        c: { use: rename },
      },
      code: "STEP_CYCLE",
      message: /a → c → b → a/,
      where: "passes.a.input",
    },
    {
      name: "an unknown pass, with a suggestion",
      steps: { a: { use: "test/rename-node" } },
      code: "PASS_UNKNOWN",
      message: /step "a" uses pass "test\/rename-node"/,
      where: "passes.a.use",
      hint: /did you mean "test\/rename-nodes"/,
    },
    {
      name: "a step named like the recipe input",
      steps: { model: { use: rename } },
      code: "STEP_ID_RESERVED",
      message: /"model" cannot be a step id/,
      where: "passes.model",
    },
  ];
  for (const { name, steps, code, message, where, hint } of invalid) {
    it(name, async () => {
      const error = await plan(steps).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (!isLatheError(error)) throw new Error(`expected a LatheError, got ${String(error)}`);
      expect(error.code).toBe(code);
      expect(error.message).toMatch(message);
      expect(error.where).toBe(`${join(dir, "recipe.yaml")} (${where})`);
      if (hint) expect(error.hint).toMatch(hint);
    });
  }
});

describe("plan output", () => {
  const steps: Steps = {
    rename: { use: rename, options: { prefix: "x/" } },
    double: { use: scale, options: { factor: 2 } },
    triple: { use: scale, input: "rename", options: { factor: 3 } },
    gone: { use: rename, enabled: false },
  };

  it("prints a tree from the reference, candidates marked", async () => {
    expect(formatPlanText(await plan(steps))).toBe(
      [
        "zoo:llama?size=tiny  (reference)",
        "└─ rename  test/rename-nodes  prefix=x/",
        "   ├─ double  test/scale-output  factor=2  → candidate",
        "   └─ triple  test/scale-output  factor=3  → candidate",
        "disabled: gone  test/rename-nodes  (reads triple)",
      ].join("\n"),
    );
  });

  it("prints a Mermaid flowchart", async () => {
    expect(formatPlanMermaid(await plan(steps))).toBe(
      [
        "flowchart TD",
        '  input["zoo:llama?size=tiny<br/>(reference)"]',
        '  s0["rename<br/>test/rename-nodes"]',
        '  s1(["double<br/>test/scale-output"])',
        '  s2(["triple<br/>test/scale-output"])',
        "  input --> s0",
        "  s0 --> s1",
        "  s0 --> s2",
      ].join("\n"),
    );
  });

  it("gives the same graph as plain data", async () => {
    expect(planToJson(await plan(steps))).toEqual({
      input: "zoo:llama?size=tiny",
      steps: [
        {
          id: "rename",
          pass: rename,
          plugin: "lathe-plugin-test@1.0.0",
          input: "model",
          options: { prefix: "x/" },
          candidate: false,
        },
        {
          id: "double",
          pass: scale,
          plugin: "lathe-plugin-test@1.0.0",
          input: "rename",
          options: { factor: 2 },
          candidate: true,
        },
        {
          id: "triple",
          pass: scale,
          plugin: "lathe-plugin-test@1.0.0",
          input: "rename",
          options: { factor: 3 },
          candidate: true,
        },
      ],
      disabled: [{ id: "gone", pass: rename, input: "triple" }],
      candidates: ["double", "triple"],
    });
  });
});
