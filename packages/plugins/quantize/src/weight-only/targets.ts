import {
  createNameFilter,
  DataType,
  type Graph,
  type Node,
  type Tensor,
  type Value,
} from "@lathe/core";
import {
  type ConstantWeight,
  computedWeightReason,
  constantTensor,
  findConstantWeight,
  isComputedGather,
} from "../common/weights.js";
import { createBitsResolver } from "./bits.js";
import type { WeightOnlyOptions } from "./options.js";

/** A MatMul or Gemm whose weight can become a block-quantized [K, N] matrix. */
export interface MatMulTarget {
  readonly node: Node;
  /** The activation, [..., K]. */
  readonly input: Value;
  readonly weight: ConstantWeight;
  readonly k: number;
  readonly n: number;
  /** The stored tensor holds [N, K] (a Transpose before the MatMul, or Gemm transB=1). */
  readonly storedAsNK: boolean;
  /** Gemm alpha, folded into the weight. */
  readonly alpha: number;
  /** Gemm's C scaled by beta: a 1-D [N] constant goes into the op's bias, anything else stays an Add. */
  readonly bias: { value: Value; beta: number } | undefined;
  /** Identifies the float data the target quantizes: targets with the same key share it. */
  readonly key: string;
}

/** A Gather reading rows of a constant 2-D table (an embedding). */
export interface GatherTarget {
  readonly node: Node;
  readonly table: Value;
  readonly tensor: Tensor;
}

export interface Candidates {
  readonly matmuls: MatMulTarget[];
  readonly gathers: GatherTarget[];
  readonly skipped: { node: Node; reason: string }[];
}

/**
 * The MatMul/Gemm and embedding-Gather nodes of one graph, each either a target or
 * skipped with the reason. Gathers of computed data (shape arithmetic) are not candidates.
 */
export function findCandidates(graph: Graph, options: WeightOnlyOptions): Candidates {
  const byName = createNameFilter(options);
  const matmuls: MatMulTarget[] = [];
  const gathers: GatherTarget[] = [];
  const skipped: { node: Node; reason: string }[] = [];
  for (const node of graph) {
    if (node.domain !== "") continue;
    const isGather = node.opType === "Gather";
    if (!isGather && node.opType !== "MatMul" && node.opType !== "Gemm") continue;
    if (isComputedGather(node)) continue;
    let reason = byName(node.name);
    if (reason === undefined && isGather) {
      const found = gatherTarget(node, options);
      if (typeof found === "string") reason = found;
      else gathers.push(found);
    } else if (reason === undefined) {
      const found = matmulTarget(node, options);
      if (typeof found === "string") reason = found;
      else matmuls.push(found);
    }
    if (reason) skipped.push({ node, reason });
  }
  return { matmuls, gathers, skipped };
}

function matmulTarget(node: Node, options: WeightOnlyOptions): MatMulTarget | string {
  const input = node.inputs[0];
  if (!input) return "missing input A";
  if (constantTensor(input)) return "input A is a constant";
  const aType = input.type?.kind === "tensor" ? input.type : undefined;
  if (aType && aType.elemType !== DataType.FLOAT) return "input A is not float32";
  if (aType?.shape && aType.shape.dims.length < 2) return "input A is 1-D";
  const weight = findConstantWeight(node.inputs[1]);
  if (!weight) return computedWeightReason(node.inputs[1], "B");
  const { tensor } = weight;
  if (tensor.dims.length !== 2) return `B is ${tensor.dims.length}-D, not 2-D`;
  if (tensor.dataType !== DataType.FLOAT) return "B is not float32";
  let storedAsNK = weight.transposed;
  let alpha = 1;
  let bias: MatMulTarget["bias"];
  if (node.opType === "Gemm") {
    if (node.getInt("transA", 0) !== 0) return "Gemm with transA=1";
    if (node.getInt("transB", 0) !== 0) storedAsNK = !storedAsNK;
    alpha = node.getFloat("alpha", 1);
    const beta = node.getFloat("beta", 1);
    const c = node.inputs[2];
    if (c && beta !== 0) bias = { value: c, beta };
  }
  const [d0, d1] = tensor.dims as [number, number];
  const [k, n] = storedAsNK ? [d1, d0] : [d0, d1];
  if (tensor.elementCount < options.minElements)
    return `B has ${tensor.elementCount} elements (< minElements ${options.minElements})`;
  if (k < options.minK) return `K is ${k} (< minK ${options.minK})`;
  const key = `${weight.source.name}|${storedAsNK ? "NK" : "KN"}|${alpha}`;
  return { node, input, weight, k, n, storedAsNK, alpha, bias, key };
}

function gatherTarget(node: Node, options: WeightOnlyOptions): GatherTarget | string {
  if (options.format !== "contrib") return "embeddings are quantized in the contrib format only";
  if (!options.quantizeEmbedding) return "quantizeEmbedding is off";
  if (node.getInt("axis", 0) !== 0) return "Gather on an axis other than 0";
  const table = node.inputs[0] as Value;
  const tensor = constantTensor(table) as Tensor;
  if (tensor.dims.length !== 2) return `table is ${tensor.dims.length}-D, not 2-D`;
  if (tensor.dataType !== DataType.FLOAT) return "table is not float32";
  if (tensor.elementCount < options.minElements)
    return `table has ${tensor.elementCount} elements (< minElements ${options.minElements})`;
  const width = tensor.dims[1] as number;
  if (createBitsResolver(options)(node, "embedding") === 4 && width % 2 !== 0)
    return `row width ${width} is odd (4-bit packing)`;
  return { node, table, tensor };
}

/** The target's weight as [N, K] rows (output channels), alpha folded in, as float32. */
export function weightRows(target: MatMulTarget): Float32Array {
  const data = Float32Array.from(target.weight.tensor.toArray() as Float32Array);
  const { k, n } = target;
  let rows = data;
  if (!target.storedAsNK) {
    rows = new Float32Array(k * n);
    for (let r = 0; r < k; r++)
      for (let c = 0; c < n; c++) rows[c * k + r] = data[r * n + c] as number;
  }
  if (target.alpha !== 1)
    for (let i = 0; i < rows.length; i++) rows[i] = (rows[i] as number) * target.alpha;
  return rows;
}
