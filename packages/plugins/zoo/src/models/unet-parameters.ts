import { DataType, Tensor, type Value } from "@lathe/core";
import type { TorchScriptWriter } from "../torchscript.js";
import type { Affine } from "./unet-ops.js";
import type { StateDictEntry } from "./unet-state-dict.js";
import type { UnetWeights } from "./unet-weights.js";

export interface LinearParams {
  /** The folded `W.T`, [in, out]. */
  weightT: Value;
  bias?: Value;
}

export interface AttentionParams {
  toQ: Value;
  toK: Value;
  toV: Value;
  toOut: LinearParams;
}

/**
 * The UNet's parameters as the exporter leaves them: state-dict entries used as stored keep
 * their names and come first, in state-dict order (added on construction, before any node);
 * folded ones (`W.T`, GroupNorm's [C, 1, 1] affine) are appended as their consumers are written.
 */
export class UnetParameters {
  readonly #t: TorchScriptWriter;
  readonly #weights: UnetWeights;
  readonly #entries = new Map<string, StateDictEntry>();
  readonly #kept = new Map<string, Value>();

  constructor(t: TorchScriptWriter, entries: readonly StateDictEntry[], weights: UnetWeights) {
    this.#t = t;
    this.#weights = weights;
    for (const entry of entries) {
      this.#entries.set(entry.name, entry);
      if (!entry.folded) {
        const tensor = floatTensor(entry.dims, weights.values(entry), entry.name);
        this.#kept.set(entry.name, t.parameter(tensor));
      }
    }
  }

  /** `<prefix>.weight` and `<prefix>.bias` as stored (Conv2d, 2-d Linear, LayerNorm). */
  affine(prefix: string): Affine {
    return { weight: this.#stored(`${prefix}.weight`), bias: this.#stored(`${prefix}.bias`) };
  }

  /** A GroupNorm's weight and bias, folded to [C, 1, 1] (`onnx::Mul_<id>`, `onnx::Add_<id>`). */
  groupNorm(prefix: string): Affine {
    const fold = (name: string, consumer: "Mul" | "Add") => {
      const entry = this.#entry(name);
      const channels = entry.dims[0] as number;
      return this.#t.folded(floatTensor([channels, 1, 1], this.#weights.values(entry)), consumer);
    };
    return { weight: fold(`${prefix}.weight`, "Mul"), bias: fold(`${prefix}.bias`, "Add") };
  }

  /** A Linear on 3-d input: the folded `W.T` (`onnx::MatMul_<id>`) and the bias, if any. */
  linear(prefix: string): LinearParams {
    const entry = this.#entry(`${prefix}.weight`);
    const [outFeatures, inFeatures] = entry.dims as [number, number];
    const weightT = this.#t.folded(
      floatTensor([inFeatures, outFeatures], this.#weights.values(entry)),
      "MatMul",
    );
    const bias = this.#kept.get(`${prefix}.bias`);
    return bias ? { weightT, bias } : { weightT };
  }

  attention(prefix: string): AttentionParams {
    return {
      toQ: this.linear(`${prefix}.to_q`).weightT,
      toK: this.linear(`${prefix}.to_k`).weightT,
      toV: this.linear(`${prefix}.to_v`).weightT,
      toOut: this.linear(`${prefix}.to_out.0`),
    };
  }

  #stored(name: string): Value {
    const value = this.#kept.get(name);
    if (!value) throw new RangeError(`unet: no parameter ${name} kept under its name`);
    return value;
  }

  #entry(name: string): StateDictEntry {
    const entry = this.#entries.get(name);
    if (!entry) throw new RangeError(`unet: no parameter ${name}`);
    return entry;
  }
}

/** A float32 tensor over the array's bytes (no copy: SD 1.5 holds 3.4 GB). */
function floatTensor(dims: readonly number[], values: Float32Array, name?: string): Tensor {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  return Tensor.fromBytes(DataType.FLOAT, dims, bytes, name === undefined ? {} : { name });
}
