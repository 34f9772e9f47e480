/** Human-readable numbers for terminal output; JSON output keeps exact values. */

const SIZE_UNITS = ["B", "kB", "MB", "GB", "TB", "PB"] as const;
const COUNT_UNITS = ["", "k", "M", "B", "T"] as const;

/** Bytes in decimal units, as disk tools and model hubs show them: "512 B", "497.8 MB". */
export function formatBytes(bytes: number): string {
  return scaled(bytes, SIZE_UNITS, " ");
}

/** A count with a decimal suffix: "999", "12.3 k", "124.4 M", "7.2 B" (billion). */
export function formatCount(count: number): string {
  return scaled(count, COUNT_UNITS, " ");
}

/** An exact whole number with thousands separators: "1,234,567". */
export function formatInteger(n: number): string {
  const sign = n < 0 ? "-" : "";
  return sign + String(Math.abs(Math.trunc(n))).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function scaled(n: number, units: readonly string[], separator: string): string {
  if (Math.abs(n) < 1000) return `${formatInteger(n)}${units[0] ? separator + units[0] : ""}`;
  let value = n;
  let unit = 0;
  // Rounding decides the unit, so 999,960 bytes reads "1.0 MB", never "1000.0 kB".
  while (unit < units.length - 1 && Math.abs(Number(value.toFixed(1))) >= 1000) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(1)}${separator}${units[unit]}`;
}
