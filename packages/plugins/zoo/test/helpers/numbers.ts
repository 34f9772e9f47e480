export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] ?? 0) > (values[best] ?? 0)) best = i;
  return best;
}

/** Population standard deviation. */
export function std(values: ArrayLike<number>): number {
  let sum = 0;
  let squares = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i] ?? 0;
    sum += x;
    squares += x * x;
  }
  const mean = sum / values.length;
  return Math.sqrt(squares / values.length - mean * mean);
}
