import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

/**
 * The ONNX backend test suite as Debian's `libonnx-testdata` installs it: one folder per case
 * with `model.onnx` and `test_data_set_N/{input,output}_K.pb`. `ONNX_TESTDATA` points elsewhere.
 */
export const TESTDATA_ROOT = process.env.ONNX_TESTDATA ?? "/usr/share/libonnx-testdata/data";

/** The folders whose cases ship a model (`real` only links to model zoo downloads). */
export const SUITE_FOLDERS = ["node", "simple", "pytorch-converted", "pytorch-operator"] as const;
export type SuiteFolder = (typeof SUITE_FOLDERS)[number];

export const TESTDATA_MISSING = "libonnx-testdata not installed: apt-get install libonnx-testdata";

export interface DataSet {
  dir: string;
  /** `input_K.pb` paths in K order: input K feeds the model's K-th graph input. */
  inputs: string[];
  /** `output_K.pb` paths in K order: output K is the model's K-th graph output. */
  outputs: string[];
}

export interface TestCase {
  folder: SuiteFolder;
  /** The case folder's name, e.g. `test_abs`. */
  name: string;
  modelPath: string;
  dataSets: DataSet[];
}

export function testdataInstalled(): boolean {
  return SUITE_FOLDERS.every((folder) => existsSync(join(TESTDATA_ROOT, folder)));
}

/** The cases of one folder that have a model, sorted by name. */
export function listCases(folder: SuiteFolder): TestCase[] {
  const root = join(TESTDATA_ROOT, folder);
  const cases: TestCase[] = [];
  for (const name of readdirSync(root).sort()) {
    const modelPath = join(root, name, "model.onnx");
    if (!existsSync(modelPath)) continue;
    const dataSets = numbered(readdirSync(join(root, name)), "test_data_set_", "").map(
      (setName) => {
        const dir = join(root, name, setName);
        const files = readdirSync(dir);
        return {
          dir,
          inputs: numbered(files, "input_", ".pb").map((f) => join(dir, f)),
          outputs: numbered(files, "output_", ".pb").map((f) => join(dir, f)),
        };
      },
    );
    cases.push({ folder, name, modelPath, dataSets });
  }
  return cases;
}

/** The names `<prefix><N><suffix>`, ordered by N (so `input_10` comes after `input_9`). */
function numbered(names: string[], prefix: string, suffix: string): string[] {
  const pattern = new RegExp(`^${prefix}(\\d+)${suffix.replace(".", "\\.")}$`);
  return names
    .map((name) => ({ name, index: Number(pattern.exec(name)?.[1] ?? Number.NaN) }))
    .filter((entry) => !Number.isNaN(entry.index))
    .sort((a, b) => a.index - b.index)
    .map((entry) => entry.name);
}
