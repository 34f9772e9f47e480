import { closeSync, fstatSync, openSync, readSync } from "node:fs";

export interface FileComparison {
  identical: boolean;
  sizes: [number, number];
  /** Byte offset of the first difference (or the shorter length), when they differ. */
  firstDifference?: number;
}

const CHUNK = 8 * 1024 * 1024;

/** Compares two files chunk by chunk, so two 500 MB files never sit in memory together. */
export function compareFiles(a: string, b: string): FileComparison {
  const fa = openSync(a, "r");
  const fb = openSync(b, "r");
  try {
    const sizes: [number, number] = [fstatSync(fa).size, fstatSync(fb).size];
    const bufA = Buffer.allocUnsafe(CHUNK);
    const bufB = Buffer.allocUnsafe(CHUNK);
    const common = Math.min(...sizes);
    for (let offset = 0; offset < common; offset += CHUNK) {
      const n = Math.min(CHUNK, common - offset);
      readFully(fa, bufA, n, offset);
      readFully(fb, bufB, n, offset);
      if (bufA.compare(bufB, 0, n, 0, n) !== 0) {
        let i = 0;
        while (bufA[i] === bufB[i]) i++;
        return { identical: false, sizes, firstDifference: offset + i };
      }
    }
    return sizes[0] === sizes[1]
      ? { identical: true, sizes }
      : { identical: false, sizes, firstDifference: common };
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

function readFully(fd: number, buffer: Buffer, length: number, position: number): void {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, position + done);
    if (n === 0) throw new Error(`file ended at ${position + done} bytes while comparing`);
    done += n;
  }
}
