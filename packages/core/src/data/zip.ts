import { crc32, inflateRawSync } from "node:zlib";
import { errors } from "../diagnostics.js";

export interface ZipMember {
  readonly name: string;
  readonly data: Uint8Array;
}

const END_OF_CENTRAL = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/**
 * The members of a zip archive (what numpy.savez writes): stored or deflated, each checked
 * against its CRC-32, so a truncated or damaged archive is refused rather than misread.
 */
export function readZip(bytes: Uint8Array, file: string, format = ".npz"): ZipMember[] {
  const fail = (detail: string) => errors.dataFileInvalid(file, format, detail);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The end record is the last 22 bytes plus a comment of up to 64 KiB.
  let end = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === END_OF_CENTRAL) {
      end = i;
      break;
    }
  }
  if (end < 0)
    throw fail("no zip end-of-central-directory record (the file is cut short, or not a zip)");
  const count = view.getUint16(end + 10, true);
  let offset = view.getUint32(end + 16, true);
  if (count === 0xffff || offset === 0xffffffff)
    throw fail("zip64 archives (over 4 GiB) are not supported");
  const members: ZipMember[] = [];
  for (let m = 0; m < count; m++) {
    if (offset + 46 > bytes.length || view.getUint32(offset, true) !== CENTRAL) {
      throw fail(`central directory entry ${m} is damaged`);
    }
    const method = view.getUint16(offset + 10, true);
    const crc = view.getUint32(offset + 16, true);
    const compressed = view.getUint32(offset + 20, true);
    const size = view.getUint32(offset + 24, true);
    const nameLength = view.getUint16(offset + 28, true);
    const extraLength = view.getUint16(offset + 30, true);
    const commentLength = view.getUint16(offset + 32, true);
    const local = view.getUint32(offset + 42, true);
    const name = new TextDecoder().decode(bytes.subarray(offset + 46, offset + 46 + nameLength));
    offset += 46 + nameLength + extraLength + commentLength;

    if (local + 30 > bytes.length || view.getUint32(local, true) !== LOCAL) {
      throw fail(`member "${name}" has no local header where the directory says`);
    }
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (start + compressed > bytes.length) throw fail(`member "${name}" is cut short`);
    const raw = bytes.subarray(start, start + compressed);
    let data: Uint8Array;
    if (method === 0) data = raw;
    else if (method === 8) {
      try {
        data = new Uint8Array(inflateRawSync(raw));
      } catch (error) {
        throw fail(`member "${name}" does not inflate: ${(error as Error).message}`);
      }
    } else
      throw fail(
        `member "${name}" uses compression method ${method} (only stored and deflate are read)`,
      );
    if (data.length !== size || crc32(data) !== crc) {
      throw fail(`member "${name}" fails its size or CRC-32 check`);
    }
    members.push({ name, data });
  }
  return members;
}
