import { type ModelBundle, singleModelBundle } from "../bundle.js";
import type { VerifyLevel } from "../check/verify.js";
import { isLatheError } from "../diagnostics.js";
import { compareOutputs } from "../evaluate/fidelity.js";
import { Model } from "../ir/model.js";
import { decodeModel, encodeModel } from "../onnx/model-file.js";
import {
  type PassLogLine,
  passOptionsWithDefaults,
  type RunPassSettings,
  runPassStandalone,
  standInPlugin,
} from "../pipeline/run-pass.js";
import type { DataRecord, PassDefinition, PassResult, Plugin } from "../plugin/types.js";
import { generateInputs } from "../runtime/inputs.js";
import { openSession } from "../runtime/session.js";
import type { ValueSignature } from "../runtime/signature.js";
import { failure } from "./expectation.js";

/** A model for a case: a Model, a bundle, or a function that builds one (called per case). */
export type CaseModel =
  | Model
  | ModelBundle
  | (() => Model | ModelBundle | Promise<Model | ModelBundle>);

/** Options that must fail validation, and the text (or pattern) the error must contain. */
export interface InvalidOptionsCase {
  readonly options: Record<string, unknown>;
  readonly error: string | RegExp;
}

/** Equivalence on ONNX Runtime: the output against the input, on generated inputs. */
export interface Equivalence {
  /** Largest absolute difference allowed in any float output (default 1e-4). */
  readonly tolerance?: number;
  /** Sizes of symbolic dims (`batch: 2`); any not given is 3. */
  readonly dims?: Readonly<Record<string, number>>;
  readonly shapes?: Readonly<Record<string, readonly number[]>>;
  /** Records compared (default 2), each from its own seed. */
  readonly samples?: number;
  /** These input records instead of generated ones (masks with padding, real token ids). */
  readonly records?: readonly DataRecord[];
}

export interface PassExpectation {
  /** The result's `modified`. */
  readonly modified?: boolean;
  /** Nothing changed: `modified` is false and the output encodes to the input's bytes. */
  readonly unchanged?: boolean;
  /** Op types the output has: a list, or exact counts (`{ MatMulNBits: 2 }`). */
  readonly opsPresent?: readonly string[] | Readonly<Record<string, number>>;
  /** Op types the output must not have. */
  readonly opsAbsent?: readonly string[];
  /** Statistics the pass reports (others may be reported too); a RegExp matches a string value. */
  readonly statistics?: Readonly<Record<string, number | string | RegExp>>;
  /** Lines the pass logs (any level); each pattern must match one. */
  readonly logs?: readonly (string | RegExp)[];
  /** Outputs on ONNX Runtime equal the input's within a tolerance (`true`: the defaults). */
  readonly equivalent?: boolean | Equivalence;
  /**
   * How the output is verified (core's `verifyBundle`, as the engine verifies a step): `load`
   * (default) runs the checker and opens every component in an ONNX Runtime CPU session;
   * `check` only runs the checker (for ops only a GPU provider has); `none` trusts the output.
   */
  readonly verify?: VerifyLevel;
  /** The pass throws a LatheError with this code (and a message matching `message`). */
  readonly throws?: string | { readonly code: string; readonly message?: string | RegExp };
}

export interface PassCase<Options> {
  readonly name: string;
  readonly model: CaseModel;
  readonly options?: Partial<Options>;
  /** What the pass sees besides its options: providers, data sets, explain, seed. */
  readonly settings?: Omit<RunPassSettings<Options>, "options">;
  readonly expect: PassExpectation;
}

export interface PassTestTables<Options> {
  /** Options that validate (defaults fill the rest). */
  readonly valid?: readonly Partial<Options>[];
  readonly invalid?: readonly InvalidOptionsCase[];
  readonly cases?: readonly PassCase<Options>[];
}

/** The test framework's functions (vitest's, mocha's, node:test's). */
export interface TestFunctions {
  describe(name: string, body: () => void): unknown;
  it(name: string, body: () => Promise<void>): unknown;
}

export interface PassTesterSettings {
  /** The plugin that defines the pass: its name is in contract errors (default: a stand-in). */
  readonly plugin?: Plugin;
}

/**
 * ESLint's RuleTester for passes: tables of valid and invalid options and of model cases with
 * their expected outcome, each run as a test. A case runs the pass as the engine does — options
 * validated with defaults filled in, then the engine's own checks on the result (contract shape,
 * declared op domains) — and then the expectations: ops present or absent, statistics, logs,
 * unchanged, equivalence on ONNX Runtime, the output loading, or the error thrown.
 */
export class PassTester<Options> {
  private readonly plugin: Plugin;

  constructor(
    private readonly pass: PassDefinition<Options>,
    private readonly test: TestFunctions,
    settings: PassTesterSettings = {},
  ) {
    this.plugin = settings.plugin ?? standInPlugin(pass);
  }

  /** Registers one `describe` with a test per table row. */
  run(tables: PassTestTables<Options>): void {
    this.test.describe(this.pass.id, () => {
      for (const options of tables.valid ?? []) {
        this.test.it(`valid options ${JSON.stringify(options)}`, async () => {
          this.checkValid(options);
        });
      }
      for (const row of tables.invalid ?? []) {
        this.test.it(`invalid options ${JSON.stringify(row.options)}`, async () => {
          this.checkInvalid(row);
        });
      }
      for (const row of tables.cases ?? []) {
        this.test.it(row.name, async () => {
          await this.runCase(row);
        });
      }
    });
  }

  checkValid(options: Partial<Options>): void {
    try {
      passOptionsWithDefaults(this.pass, options);
    } catch (error) {
      throw failure(`options ${JSON.stringify(options)} should be valid`, message(error));
    }
  }

  checkInvalid(row: InvalidOptionsCase): void {
    let thrown: unknown;
    try {
      passOptionsWithDefaults(this.pass, row.options as Partial<Options>);
    } catch (error) {
      thrown = error;
    }
    const text = `options ${JSON.stringify(row.options)}`;
    if (thrown === undefined) throw failure(`${text} should be invalid`, "they validated");
    if (!isLatheError(thrown) || thrown.code !== "PASS_OPTIONS_INVALID") throw thrown;
    if (!matches(thrown.message, row.error))
      throw failure(`${text}: the error should contain ${String(row.error)}`, thrown.message);
  }

  /** Runs one case; throws an ExpectationFailure saying what differed. */
  async runCase(row: PassCase<Options>): Promise<PassRunOutcome> {
    const input = await buildInput(row.model);
    const inputBytes = [...input.components.values()].map((m) => encodeModel(m));
    const working = copyBundle(input);
    const expectation = row.expect;
    let run: { result: PassResult; logs: readonly PassLogLine[] };
    try {
      // runPassStandalone runs the engine's checks after the pass: contract, op domains, verify.
      run = await runPassStandalone(this.pass, working, {
        ...row.settings,
        options: row.options ?? {},
        plugin: this.plugin,
        verify: expectation.verify ?? "load",
      });
    } catch (error) {
      if (expectation.throws === undefined) throw error;
      checkThrown(error, expectation.throws);
      return { logs: [] };
    }
    if (expectation.throws !== undefined)
      throw failure(`the pass should throw ${describeThrows(expectation.throws)}`, "it returned");
    const { result, logs } = run;
    const output = result.bundle;
    if (expectation.modified !== undefined && result.modified !== expectation.modified)
      throw failure(`modified should be ${expectation.modified}`, `it is ${result.modified}`);
    if (expectation.unchanged) checkUnchanged(result, inputBytes);
    checkOps(output, expectation);
    if (expectation.statistics) checkStatistics(result.statistics ?? {}, expectation.statistics);
    for (const pattern of expectation.logs ?? []) {
      if (!logs.some((line) => matches(line.message, pattern)))
        throw failure(
          `the pass should log ${String(pattern)}`,
          logs.map((l) => `${l.level}: ${l.message}`).join("\n") || "it logged nothing",
        );
    }
    if (expectation.equivalent) {
      const settings = expectation.equivalent === true ? {} : expectation.equivalent;
      await checkEquivalent(input, output, settings);
    }
    return { result, logs };
  }
}

export interface PassRunOutcome {
  readonly result?: PassResult;
  readonly logs: readonly PassLogLine[];
}

async function buildInput(model: CaseModel): Promise<ModelBundle> {
  const built = typeof model === "function" ? await model() : model;
  return built instanceof Model ? singleModelBundle(built) : built;
}

/** The pass edits its input in place, so it gets a copy; the input stays the reference. */
function copyBundle(bundle: ModelBundle): ModelBundle {
  const components = new Map<string, Model>();
  for (const [name, model] of bundle.components)
    components.set(name, decodeModel(encodeModel(model)));
  return { ...bundle, components, metadata: structuredClone(bundle.metadata) };
}

function checkUnchanged(result: PassResult, inputBytes: readonly Uint8Array[]): void {
  if (result.modified) throw failure("the model should be unchanged", "the pass says modified");
  const outputBytes = [...result.bundle.components.values()].map((m) => encodeModel(m));
  const same =
    outputBytes.length === inputBytes.length &&
    outputBytes.every((bytes, i) => Buffer.compare(bytes, inputBytes[i]!) === 0);
  if (!same)
    throw failure(
      "the model should be unchanged",
      "modified is false, but the output's bytes differ from the input's: a pass that changes the model must say modified: true",
    );
}

function opCounts(bundle: ModelBundle): Map<string, number> {
  const counts = new Map<string, number>();
  for (const model of bundle.components.values()) {
    for (const node of model.allNodes())
      counts.set(node.opType, (counts.get(node.opType) ?? 0) + 1);
  }
  return counts;
}

function checkOps(output: ModelBundle, expectation: PassExpectation): void {
  const counts = opCounts(output);
  const have = () =>
    [...counts]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([op, n]) => `${op} ×${n}`)
      .join(", ");
  const present = expectation.opsPresent;
  if (Array.isArray(present)) {
    for (const op of present)
      if (!counts.has(op)) throw failure(`the output should have ${op}`, `it has ${have()}`);
  } else if (present) {
    for (const [op, n] of Object.entries(present as Record<string, number>))
      if ((counts.get(op) ?? 0) !== n)
        throw failure(`the output should have ${op} ×${n}`, `it has ${have()}`);
  }
  for (const op of expectation.opsAbsent ?? [])
    if (counts.has(op)) throw failure(`the output should have no ${op}`, `it has ${have()}`);
}

function checkStatistics(
  actual: Readonly<Record<string, number | string>>,
  expected: Readonly<Record<string, number | string | RegExp>>,
): void {
  for (const [key, want] of Object.entries(expected)) {
    const got = actual[key];
    const ok = want instanceof RegExp ? typeof got === "string" && want.test(got) : got === want;
    if (!ok)
      throw failure(
        `statistic "${key}" should be ${String(want)}`,
        `the statistics are ${JSON.stringify(actual)}`,
      );
  }
}

/** The output passes the checker (and loads in ONNX Runtime): what the engine's verify does. */
async function checkEquivalent(
  input: ModelBundle,
  output: ModelBundle,
  settings: Equivalence,
): Promise<void> {
  const tolerance = settings.tolerance ?? 1e-4;
  for (const [name, reference] of input.components) {
    const candidate = output.components.get(name);
    if (!candidate) throw failure(`the output should keep component "${name}"`, "it is gone");
    const [a, b] = [await openSession(reference), await openSession(candidate)];
    try {
      const refs = [];
      const cands = [];
      const records =
        settings.records ??
        Array.from({ length: settings.samples ?? 2 }, (_, seed) =>
          generateInputs(a.inputs, {
            seed,
            dims: { ...defaultDims(a.inputs), ...settings.dims },
            ...(settings.shapes ? { shapes: settings.shapes } : {}),
            where: "the tester's equivalence settings",
          }),
        );
      for (const feeds of records) {
        refs.push(await a.run(feeds));
        cands.push(await b.run(feeds));
      }
      const values = compareOutputs(refs, cands);
      const worst = values.maxAbs ?? 0;
      if (!(worst <= tolerance)) {
        const per = Object.entries(values)
          .filter(([key]) => key.endsWith(".maxAbs"))
          .map(([key, v]) => `${key.slice(0, -".maxAbs".length)}: ${v}`)
          .join(", ");
        throw failure(
          `component "${name}" should compute the same outputs within ${tolerance}`,
          `largest absolute difference ${worst} (${per})`,
        );
      }
    } finally {
      await a.release();
      await b.release();
    }
  }
}

/**
 * Symbolic dims the case did not size get 3 (small, but more than 1 so broadcasting mistakes
 * show); totals are left for generateInputs to add up from past and current lengths.
 */
function defaultDims(signature: readonly ValueSignature[]): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const input of signature)
    for (const d of input.dims)
      if (typeof d === "string" && /^[A-Za-z_]\w*$/.test(d) && !/total/i.test(d)) dims[d] = 3;
  return dims;
}

function checkThrown(error: unknown, expected: NonNullable<PassExpectation["throws"]>): void {
  const code = typeof expected === "string" ? expected : expected.code;
  if (!isLatheError(error) || error.code !== code)
    throw failure(
      `the pass should throw ${describeThrows(expected)}`,
      isLatheError(error)
        ? `it threw ${error.code}: ${error.message}`
        : `it threw ${message(error)}`,
    );
  if (typeof expected !== "string" && expected.message && !matches(error.message, expected.message))
    throw failure(`the ${code} message should contain ${String(expected.message)}`, error.message);
}

function describeThrows(expected: NonNullable<PassExpectation["throws"]>): string {
  return typeof expected === "string" ? expected : expected.code;
}

function matches(text: string, pattern: string | RegExp): boolean {
  return typeof pattern === "string" ? text.includes(pattern) : pattern.test(text);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
