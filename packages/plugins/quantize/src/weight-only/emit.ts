import {
  addConstant,
  DataType,
  type Graph,
  insertNode,
  type NameScope,
  type Node,
  replaceNode,
  Tensor,
  type Value,
} from "@lathe/core";
import { constantTensor } from "../common/weights.js";
import type { BlockQuantized } from "./block-quant.js";
import {
  packDequantizeLinear,
  packGatherData,
  packMatMulNBitsWeight,
  packMatMulNBitsZeroPoints,
} from "./packing.js";
import type { GatherTarget, MatMulTarget } from "./targets.js";

export const MS_DOMAIN = "com.microsoft";

export interface EmitContext {
  readonly graph: Graph;
  readonly namer: NameScope;
  readonly accuracyLevel: number;
}

/** The stored tensors of one quantized weight, added once and read by every node sharing it. */
export interface StoredMatMulNBits {
  readonly weight: Value;
  readonly scales: Value;
  readonly zeroPoints: Value | undefined;
}

export function storeMatMulNBits(
  q: BlockQuantized,
  stem: string,
  { graph, namer }: EmitContext,
): StoredMatMulNBits {
  const blob = (q.blockSize * q.bits) / 8;
  const zeroBytes = q.bits === 8 ? q.blocks : Math.ceil(q.blocks / 2);
  return {
    weight: addConstant(
      graph,
      namer,
      `${stem}_Q${q.bits}`,
      Tensor.fromBytes(DataType.UINT8, [q.rows, q.blocks, blob], packMatMulNBitsWeight(q)),
    ),
    scales: addConstant(
      graph,
      namer,
      `${stem}_scales`,
      Tensor.fromArray(DataType.FLOAT, [q.rows * q.blocks], q.scales),
    ),
    zeroPoints: q.symmetric
      ? undefined
      : addConstant(
          graph,
          namer,
          `${stem}_zero_points`,
          Tensor.fromBytes(DataType.UINT8, [q.rows * zeroBytes], packMatMulNBitsZeroPoints(q)),
        ),
  };
}

/** Replaces the target with com.microsoft MatMulNBits reading `stored` (and its bias). */
export function emitMatMulNBits(
  target: MatMulTarget,
  q: BlockQuantized,
  stored: StoredMatMulNBits,
  ctx: EmitContext,
): void {
  const { node } = target;
  const bias = biasValue(target, ctx);
  const fusedBias = bias && isVectorOf(bias, target.n) ? bias : undefined;
  const inputs: (Value | undefined)[] = [
    target.input,
    stored.weight,
    stored.scales,
    stored.zeroPoints,
  ];
  if (fusedBias) inputs.push(undefined, fusedBias);
  while (inputs.length > 0 && inputs.at(-1) === undefined) inputs.pop();
  const attributes: Record<string, unknown> = {
    K: target.k,
    N: target.n,
    bits: q.bits,
    block_size: q.blockSize,
  };
  if (ctx.accuracyLevel > 0) attributes.accuracy_level = ctx.accuracyLevel;
  const product = insertNode(ctx.graph, ctx.namer, node, {
    opType: "MatMulNBits",
    domain: MS_DOMAIN,
    name: `${node.name}_Q${q.bits}`,
    inputs,
    attributes,
  }).output;
  finish(target, product, fusedBias ? undefined : bias, ctx);
}

/** The portable form: DequantizeLinear-21 (blocked along K, axis 0, uint4/uint8) of the [K, N] weight, then MatMul. */
export function storeDequantized(q: BlockQuantized, stem: string, { graph, namer }: EmitContext) {
  const packed = packDequantizeLinear(q);
  const type = q.bits === 4 ? DataType.UINT4 : DataType.UINT8;
  const k = q.columns;
  const n = q.rows;
  const values = addConstant(
    graph,
    namer,
    `${stem}_Q${q.bits}`,
    Tensor.fromBytes(type, [k, n], packed.values),
  );
  const scales = addConstant(
    graph,
    namer,
    `${stem}_scales`,
    Tensor.fromArray(DataType.FLOAT, [q.blocks, n], packed.scales),
  );
  const zeroPoints = addConstant(
    graph,
    namer,
    `${stem}_zero_points`,
    Tensor.fromBytes(type, [q.blocks, n], packed.zeroPoints),
  );
  return { values, scales, zeroPoints };
}

export function emitDequantizeMatMul(
  target: MatMulTarget,
  q: BlockQuantized,
  stored: ReturnType<typeof storeDequantized>,
  ctx: EmitContext,
): void {
  const { node } = target;
  const weight = insertNode(ctx.graph, ctx.namer, node, {
    opType: "DequantizeLinear",
    name: `${node.name}_DequantizeLinear`,
    inputs: [stored.values, stored.scales, stored.zeroPoints],
    attributes: { axis: 0, block_size: q.blockSize },
  }).output;
  const product = insertNode(ctx.graph, ctx.namer, node, {
    opType: "MatMul",
    name: `${node.name}_MatMul`,
    inputs: [target.input, weight],
  }).output;
  finish(target, product, biasValue(target, ctx), ctx);
}

/** Replaces Gather(table, ids) with GatherBlockQuantized over the table's rows, blocked along the row. */
export function emitGatherBlockQuantized(
  target: GatherTarget,
  q: BlockQuantized,
  { graph, namer }: EmitContext,
): void {
  const { node, table } = target;
  const [rows, width] = target.tensor.dims as [number, number];
  const stem = table.name || node.name;
  const data = addConstant(
    graph,
    namer,
    `${stem}_Q${q.bits}`,
    Tensor.fromBytes(DataType.UINT8, [rows, (width * q.bits) / 8], packGatherData(q)),
  );
  const scales = addConstant(
    graph,
    namer,
    `${stem}_scales`,
    Tensor.fromArray(DataType.FLOAT, [rows, q.blocks], q.scales),
  );
  const zeroPoints = q.symmetric
    ? undefined
    : addConstant(
        graph,
        namer,
        `${stem}_zero_points`,
        Tensor.fromBytes(
          DataType.UINT8,
          [rows, q.bits === 8 ? q.blocks : Math.ceil(q.blocks / 2)],
          packMatMulNBitsZeroPoints(q),
        ),
      );
  const gathered = insertNode(graph, namer, node, {
    opType: "GatherBlockQuantized",
    domain: MS_DOMAIN,
    name: `${node.name}_Q${q.bits}`,
    inputs: [data, node.inputs[1], scales, zeroPoints],
    attributes: { gather_axis: 0, quantize_axis: 1, block_size: q.blockSize, bits: q.bits },
  }).output;
  replaceNode(graph, node, gathered, namer, { takeName: true });
}

/**
 * Replaces Gather(table, ids) with GatherBlockQuantized over the MatMulNBits weight of a tied LM
 * head that quantized the same [rows, K] table (same values, no padding, no zero points): that
 * weight is [rows, blocks, block_size·bits/8], so gathering rows with the blocks as a middle axis
 * reads it as is, and the table is stored once. Only the scales get their own [rows, blocks, 1].
 */
export function emitTiedGatherBlockQuantized(
  target: GatherTarget,
  q: BlockQuantized,
  stored: StoredMatMulNBits,
  { graph, namer }: EmitContext,
): void {
  const { node } = target;
  const ids = node.inputs[1] as Value;
  const stem = target.table.name || node.name;
  const scales = addConstant(
    graph,
    namer,
    `${stem}_gather_scales`,
    Tensor.fromArray(DataType.FLOAT, [q.rows, q.blocks, 1], q.scales),
  );
  const at = (opType: string, inputs: Value[], attributes: Record<string, unknown> = {}) =>
    insertNode(graph, namer, node, {
      opType,
      name: `${node.name}_${opType}`,
      inputs,
      attributes,
    }).output;
  const gathered = insertNode(graph, namer, node, {
    opType: "GatherBlockQuantized",
    domain: MS_DOMAIN,
    name: `${node.name}_Q${q.bits}`,
    inputs: [stored.weight, ids, scales],
    attributes: { gather_axis: 0, quantize_axis: 2, block_size: q.blockSize, bits: q.bits },
  }).output;
  // [ids…, blocks, block_size] → [ids…, K]
  const width = addConstant(
    graph,
    namer,
    `${stem}_row_width`,
    Tensor.fromArray(DataType.INT64, [1], [BigInt(q.columns)]),
  );
  const shape = at("Concat", [at("Shape", [ids]), width], { axis: 0 });
  replaceNode(graph, node, at("Reshape", [gathered, shape]), namer, { takeName: true });
}

/** Whether a tied Gather can read `q`'s MatMulNBits weight as is (see emitTiedGatherBlockQuantized). */
export function canShareWithGather(q: BlockQuantized, stored: StoredMatMulNBits): boolean {
  return !stored.zeroPoints && q.columns === q.blocks * q.blockSize;
}

/** Gemm's beta·C, as a value (a scaled constant, or a Mul when C is computed). */
function biasValue(target: MatMulTarget, { graph, namer }: EmitContext): Value | undefined {
  if (!target.bias) return undefined;
  const { value, beta } = target.bias;
  if (beta === 1) return value;
  const tensor = constantTensor(value);
  if (tensor?.dataType === DataType.FLOAT) {
    const scaled = Float32Array.from(tensor.toArray() as Float32Array, (v) => v * beta);
    return addConstant(
      graph,
      namer,
      `${value.name}_beta`,
      Tensor.fromArray(DataType.FLOAT, tensor.dims, scaled),
    );
  }
  const factor = addConstant(
    graph,
    namer,
    `${value.name}_beta`,
    Tensor.fromArray(DataType.FLOAT, [], [beta]),
  );
  return insertNode(graph, namer, target.node, {
    opType: "Mul",
    name: `${target.node.name}_beta`,
    inputs: [value, factor],
  }).output;
}

function isVectorOf(value: Value, n: number): boolean {
  const tensor = constantTensor(value);
  return tensor?.dataType === DataType.FLOAT && tensor.dims.length === 1 && tensor.dims[0] === n;
}

/** Adds what is left of the bias and puts the result in the node's place. */
function finish(target: MatMulTarget, product: Value, bias: Value | undefined, ctx: EmitContext) {
  const { node } = target;
  const result = bias
    ? insertNode(ctx.graph, ctx.namer, node, {
        opType: "Add",
        name: `${node.name}_bias`,
        inputs: [product, bias],
      }).output
    : product;
  replaceNode(ctx.graph, node as Node, result, ctx.namer, { takeName: true });
}
