import { type Builder, DataType, type Node, Tensor, type Value } from "@lathe/core";

/** What torch writes for an open-ended slice or size (`x[a:]`, `size(-1)`). */
export const INT64_MAX = 9223372036854775807n;

/** A Python int in a list of sizes, or a traced size. */
export type SizeItem = Value | number;

/** A slice bound: a traced size, or a Python int. */
type SliceBound = Value | number | bigint;

type AttributeMap = Record<string, unknown>;

/**
 * Emits nodes the way torch.onnx.export's TorchScript exporter (torch 2.0, constant folding on)
 * writes Hugging Face modeling code, as seen in a text dump of a real export of GPT-2
 * (openai-community/gpt2 `onnx/decoder_model.onnx`, opset 13). Every zoo model that claims
 * this exporter writes its nodes through here:
 *
 * - a node inside a module is `<module path>/<Op>`, `<Op>_1`, …, its outputs `<node>_output_<i>`;
 * - literals are `Constant` nodes of the module (Python ints of a size list as 1-d tensors);
 *   constant folding turns ops on literals alone into such `Constant`s too, and only ops on
 *   parameters into initializers (`onnx::MatMul_<id>` for a Linear's `W.T`);
 * - `x.size(d)` is `Shape → Gather` for d ≥ 0 and `Shape → Slice → Squeeze` for d < 0, each
 *   call with its own `Shape`, as the ATen graph had one `aten::size` per call;
 * - a list of sizes becomes `Concat` of fresh `Unsqueeze`s whose axes are module-less
 *   `Constant`s named `onnx::Unsqueeze_<id>` (the exporter's peephole creates them), named
 *   `Constant_<position>` as torch names nodes without a module path;
 * - casts are kept even when the type does not change.
 */
export class TorchScriptWriter {
  readonly #b: Builder;
  #scope = "";
  readonly #counters = new Map<string, number>();
  /** Constants created outside any module: named by their position once the graph is complete. */
  readonly #unscoped = new Set<Node>();
  /** Stands in for torch's value ids in `onnx::<Consumer>_<id>` names. */
  #valueId: number;

  constructor(builder: Builder, firstValueId: number) {
    this.#b = builder;
    this.#valueId = firstValueId;
  }

  /** Runs `body` with nodes named under a module path such as `/transformer/h.0/attn`. */
  in<T>(scope: string, body: () => T): T {
    const saved = this.#scope;
    this.#scope = scope;
    try {
      return body();
    } finally {
      this.#scope = saved;
    }
  }

  op(opType: string, inputs: readonly Value[], attributes: AttributeMap = {}): Value {
    return this.ops(opType, inputs, attributes, 1)[0] as Value;
  }

  /** A node with several outputs (`Split`). */
  ops(
    opType: string,
    inputs: readonly Value[],
    attributes: AttributeMap,
    count: number,
  ): readonly Value[] {
    const name = this.#nodeName(opType);
    const outputs = Array.from({ length: count }, (_, i) => `${name}_output_${i}`);
    this.#valueId += count;
    return this.#b.node(opType, inputs, attributes, { name, outputs }).outputs;
  }

  /** A `Constant` node of the current module: what a symbolic writes for a literal. */
  constant(tensor: Tensor): Value {
    return this.op("Constant", [], { value: tensor });
  }

  /** A 0-d int64 (a `Gather` index). */
  intScalar(value: number): Value {
    return this.constant(Tensor.fromArray(DataType.INT64, [], [BigInt(value)]));
  }

  /** A 1-d int64 (axes, starts, ends, a Python int of a size list). */
  ints(values: readonly (number | bigint)[]): Value {
    return this.constant(Tensor.fromArray(DataType.INT64, [values.length], values.map(BigInt)));
  }

  /** A 0-d float (a Python float in arithmetic). */
  floatScalar(value: number): Value {
    return this.constant(Tensor.fromArray(DataType.FLOAT, [], [value]));
  }

  /** A `Constant` outside any module, its value named after its consumer: `onnx::Slice_335`. */
  unscopedConstant(tensor: Tensor, consumer: string): Value {
    this.#valueId += 1;
    const node = this.#b.node(
      "Constant",
      [],
      { value: tensor },
      {
        name: `unscoped_${this.#valueId}`,
        outputs: [`onnx::${consumer}_${this.#valueId}`],
      },
    );
    this.#unscoped.add(node);
    return node.output;
  }

  /** `x.size(dim)`, a 0-d int64. */
  size(x: Value, dim: number): Value {
    const shape = this.op("Shape", [x]);
    if (dim >= 0) return this.op("Gather", [shape, this.intScalar(dim)], { axis: 0 });
    // the opset-9 `select` of a negative index: a one-element Slice, squeezed
    const axes = this.ints([0]);
    const starts = this.ints([dim]);
    const ends = this.ints([dim === -1 ? INT64_MAX : dim + 1]);
    const element = this.op("Slice", [shape, starts, ends, axes]);
    return this.op("Squeeze", [element, this.ints([0])]);
  }

  /** `x.unsqueeze(axis)` or `x[:, None]` written by a module's code. */
  unsqueeze(x: Value, axis: number): Value {
    return this.op("Unsqueeze", [x, this.ints([axis])]);
  }

  /** A list of sizes as a 1-d int64: `Concat` of its items. */
  sizeList(items: readonly SizeItem[]): Value {
    const parts = items.map((item) =>
      typeof item === "number"
        ? this.ints([item])
        : this.op("Unsqueeze", [item, this.unscopedConstant(int64s([0]), "Unsqueeze")]),
    );
    return this.op("Concat", parts, { axis: 0 });
  }

  /** `x.view(*items)`. */
  view(x: Value, items: readonly SizeItem[]): Value {
    return this.op("Reshape", [x, this.sizeList(items)]);
  }

  /**
   * `x.view(shape)` with an already built shape. From opset 14 the symbolic writes the new
   * `allowzero` attribute, always 0.
   */
  reshape(x: Value, shape: Value): Value {
    const opset = this.#b.opsets.get("") ?? 0;
    return this.op("Reshape", [x, shape], opset >= 14 ? { allowzero: 0 } : {});
  }

  /**
   * `x.expand(*items)` through the opset-9 symbolic: it stacks the sizes itself (traced ones
   * unsqueezed with the module's axes, Python ints folded to `Constant`s), then maps -1 to 1.
   */
  expand(x: Value, items: readonly SizeItem[]): Value {
    const parts = items.map((item) =>
      typeof item === "number" ? this.ints([item]) : this.unsqueeze(item, 0),
    );
    const size = this.reshape(this.op("Concat", parts, { axis: 0 }), this.ints([-1]));
    const ones = this.op("ConstantOfShape", [this.op("Shape", [size])], {
      value: Tensor.fromArray(DataType.INT64, [1], [1n]),
    });
    const minusOnes = this.op("Mul", [ones, this.intScalar(-1)]);
    const target = this.op("Where", [this.op("Equal", [size, minusOnes]), ones, size]);
    return this.op("Expand", [x, target]);
  }

  /** A parameter kept under its state-dict name (`model.norm.weight`). */
  parameter(tensor: Tensor): Value {
    return this.#b.initializer(tensor);
  }

  /** What constant folding made of an op on parameters (a Linear's `W.T`): `onnx::MatMul_<id>`. */
  folded(tensor: Tensor, consumer: string): Value {
    this.#valueId += 1;
    return this.#b.initializer(tensor, `onnx::${consumer}_${this.#valueId}`);
  }

  /**
   * `x[..., start:end]` on one axis with a traced bound (`dynamic_slice`): a traced bound is
   * unsqueezed; an omitted start (0), a Python int or an omitted end (`INT64_MAX`), axis and
   * step are folded to `Constant`s.
   */
  slice(x: Value, axis: number, start: SliceBound | undefined, end: SliceBound): Value {
    const bound = (item: SliceBound) =>
      typeof item === "number" || typeof item === "bigint"
        ? this.ints([item])
        : this.unsqueeze(item, 0);
    const starts = bound(start ?? 0);
    const ends = bound(end);
    return this.op("Slice", [x, starts, ends, this.ints([axis]), this.ints([1])]);
  }

  transpose(x: Value, perm: readonly number[]): Value {
    return this.op("Transpose", [x], { perm });
  }

  /** `tensor.to(torch.float32)`: the exporter keeps the `Cast` even when the type is unchanged. */
  castFloat(x: Value): Value {
    return this.cast(x, DataType.FLOAT);
  }

  /** `tensor.to(dtype)` or a symbolic's cast, kept even when the type is unchanged. */
  cast(x: Value, to: DataType): Value {
    return this.op("Cast", [x], { to });
  }

  /** Names module-less constants `Constant_<position>` as torch's encoder does; call once, last. */
  nameUnscopedNodes(nodes: readonly Node[]): void {
    nodes.forEach((node, position) => {
      if (this.#unscoped.has(node)) node.name = `Constant_${position}`;
    });
  }

  #nodeName(opType: string): string {
    const stem = `${this.#scope}/${opType}`;
    const n = this.#counters.get(stem) ?? 0;
    this.#counters.set(stem, n + 1);
    return n === 0 ? stem : `${stem}_${n}`;
  }
}

function int64s(values: readonly number[]): Tensor {
  return Tensor.fromArray(DataType.INT64, [values.length], values.map(BigInt));
}
