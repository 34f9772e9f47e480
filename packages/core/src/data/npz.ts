import type { Tensor } from "../ir/tensor.js";
import { parseNpy } from "./npy.js";
import { readZip } from "./zip.js";

/** The arrays of a `.npz` (numpy.savez / savez_compressed), by name (the member name less `.npy`). */
export function parseNpz(bytes: Uint8Array, file: string): Record<string, Tensor> {
  const arrays: Record<string, Tensor> = {};
  for (const member of readZip(bytes, file)) {
    if (!member.name.endsWith(".npy")) continue;
    const name = member.name.slice(0, -4);
    arrays[name] = parseNpy(member.data, `${file}:${member.name}`, name);
  }
  return arrays;
}
