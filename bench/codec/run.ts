/**
 * Codec benchmark: Lathe's loadModel + saveModel against Python's onnx.load + onnx.save on
 * GPT-2 small (~500 MB), each repetition in fresh processes, alternating who goes first.
 * Prints medians, ratios and PASS/FAIL against the floors; exits 1 when a floor fails.
 * Run with `pnpm bench:codec` (builds first); `BENCH_REPEATS=3` changes N.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadModel, type Model, saveModel } from "@lathe/core";
import { buildTransformer, GPT2_SMALL } from "../../test/fixtures/transformer.js";
import { runChild, type Sample, type Task, taskArgs } from "./children.js";
import { compareFiles } from "./compare-files.js";
import { type Baseline, medianOf, printReport, type Scenario } from "./report.js";

const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const PYTHON = "/usr/bin/python3";
const root = findRepoRoot(dirname(fileURLToPath(import.meta.url)));
const compiledChild = fileURLToPath(new URL("./lathe-child.js", import.meta.url));
const sourceChild = join(root, "bench/codec/lathe-child.ts");
const pythonSource = readFileSync(join(root, "bench/codec/python-child.py"), "utf8");

interface Contender {
  name: string;
  run(task: Task): Sample;
}

const lathe: Contender = {
  name: "Lathe (node, compiled JS)",
  run: (task) => runChild(process.execPath, [compiledChild, ...taskArgs(task)], root),
};
const latheTsx: Contender = {
  name: "Lathe (node --import tsx)",
  run: (task) =>
    runChild(process.execPath, ["--import", "tsx", sourceChild, ...taskArgs(task)], root),
};
const python: Contender = {
  name: "Python onnx 1.12",
  run: (task) => runChild(PYTHON, ["-c", pythonSource, ...taskArgs(task)], root),
};

const work = mkdtempSync(join(tmpdir(), "lathe-bench-codec-"));
try {
  const { singleFile, externalFile, parameters, buildSeconds } = await prepareModels(work);
  console.log(
    `GPT-2 small: ${(parameters / 1e6).toFixed(1)} M parameters, built in ${buildSeconds.toFixed(1)} s; ` +
      `${REPEATS} repetitions per contender, fresh processes, alternating order\n`,
  );
  const baselines = measureBaselines();
  const scenarios = [
    await measure("single .onnx file", singleFile, false, [lathe, python, latheTsx]),
    await measure("external data (.onnx + .data)", externalFile, true, [lathe, python]),
  ];
  const passed = printReport(scenarios, baselines, lathe.name, python.name);
  process.exitCode = passed ? 0 : 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}

async function prepareModels(dir: string) {
  const start = performance.now();
  const model = buildTransformer(GPT2_SMALL);
  const buildSeconds = (performance.now() - start) / 1000;
  let parameters = 0;
  for (const value of model.graph.initializers.values()) {
    const c = value.constValue;
    if (c && !("values" in c)) parameters += c.elementCount;
  }
  const singleFile = join(dir, "single/model.onnx");
  const externalFile = join(dir, "external/model.onnx");
  mkdirSync(dirname(singleFile));
  mkdirSync(dirname(externalFile));
  await saveModel(model, singleFile);
  await saveModel(model, externalFile, { externalData: true });
  return { singleFile, externalFile, parameters, buildSeconds };
}

function measureBaselines(): Baseline[] {
  const nodeEmpty =
    "const m=/^VmHWM:\\s+(\\d+)/m.exec(require('fs').readFileSync('/proc/self/status','utf8'));" +
    "console.log(JSON.stringify({seconds:0,maxRssBytes:Number(m[1])*1024}))";
  const pythonEmpty =
    "import json,re;k=int(re.search(r'^VmHWM:\\s+(\\d+)',open('/proc/self/status').read(),re.M).group(1));" +
    "print(json.dumps({'seconds':0,'maxRssBytes':k*1024}))";
  const median = (run: () => Sample) =>
    medianOf(Array.from({ length: 3 }, run).map((s) => s.maxRssBytes));
  return [
    {
      name: "node, empty",
      rssBytes: median(() => runChild(process.execPath, ["-e", nodeEmpty], root)),
    },
    {
      name: "node + @lathe/core (compiled JS)",
      rssBytes: median(() => lathe.run({ kind: "baseline" })),
    },
    {
      name: "node --import tsx + @lathe/core",
      rssBytes: median(() => latheTsx.run({ kind: "baseline" })),
    },
    { name: "python3, empty", rssBytes: median(() => runChild(PYTHON, ["-c", pythonEmpty], root)) },
    { name: "python3 + import onnx", rssBytes: median(() => python.run({ kind: "baseline" })) },
  ];
}

async function measure(
  title: string,
  input: string,
  external: boolean,
  contenders: Contender[],
): Promise<Scenario> {
  // Each contender writes into its own folder, emptied before each of its runs.
  const outputFor = (c: Contender) =>
    join(work, `out-${external ? "ext" : "single"}-${contenders.indexOf(c)}/model.onnx`);
  const samples = new Map<string, Sample[]>(contenders.map((c) => [c.name, []]));
  for (let rep = 0; rep < REPEATS; rep++) {
    // Rotate the order so page cache and disk write-back favour no one.
    const order = contenders.map((_, i) => contenders[(i + rep) % contenders.length]!);
    for (const contender of order) {
      const output = outputFor(contender);
      rmSync(dirname(output), { recursive: true, force: true });
      mkdirSync(dirname(output));
      const sample = contender.run({ kind: "load-save", input, output, external });
      samples.get(contender.name)!.push(sample);
      process.stdout.write(
        `  ${title} #${rep + 1} ${contender.name}: ${sample.seconds.toFixed(2)} s, ${(sample.maxRssBytes / 1e6).toFixed(0)} MB\n`,
      );
    }
  }
  const files = (path: string) => (external ? [path, `${path}.data`] : [path]);
  const fileBytes = files(input).reduce((sum, f) => sum + statSync(f).size, 0);
  const checks: string[] = [];
  for (const contender of contenders) {
    const output = outputFor(contender);
    const differences = files(input).map((f, i) => describeComparison(f, files(output)[i]!));
    checks.push(`${contender.name} output vs input: ${differences.join("; ")}`);
  }
  const reload = await checkReload(input, outputFor(lathe));
  checks.push(`${lathe.name} output re-loads: ${reload.message}`);
  return { title, fileBytes, samples, checks, checksPassed: reload.ok };
}

/** Loads Lathe's output again and compares its graph and weights with the input's. */
async function checkReload(
  input: string,
  output: string,
): Promise<{ ok: boolean; message: string }> {
  try {
    const [a, b] = [await loadModel(input), await loadModel(output)];
    const summary = (m: Model) => {
      let bytes = 0;
      for (const v of m.graph.initializers.values())
        if (v.constValue && !("values" in v.constValue)) bytes += v.constValue.byteLength;
      return `${m.graph.nodeCount} nodes, ${m.graph.initializers.size} initializers, ${bytes} weight bytes`;
    };
    const [sa, sb] = [summary(a), summary(b)];
    return sa === sb
      ? { ok: true, message: `yes (${sb})` }
      : { ok: false, message: `differs: input ${sa}, output ${sb}` };
  } catch (error) {
    return { ok: false, message: `no: ${(error as Error).message}` };
  }
}

function describeComparison(input: string, output: string): string {
  const name = input.slice(input.lastIndexOf("/") + 1);
  if (!existsSync(output)) return `${name} missing`;
  const c = compareFiles(input, output);
  if (c.identical) return `${name} byte-identical (${c.sizes[0]} bytes)`;
  return `${name} differs (${c.sizes[0]} vs ${c.sizes[1]} bytes, first difference at byte ${c.firstDifference})`;
}

function findRepoRoot(from: string): string {
  for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir;
  }
  throw new Error(
    `no pnpm-workspace.yaml above ${from}: run the benchmark inside the Lathe repository`,
  );
}
