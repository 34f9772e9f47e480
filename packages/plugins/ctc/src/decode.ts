/**
 * CTC greedy decoding and the character error rate: what a sequence recognizer's task quality
 * is measured with. Plain functions over numbers, so tests and benchmarks use them without a
 * session or a recipe.
 */

/** A recognizer's classes: which one is the CTC blank and the symbol each other class writes. */
export interface CtcAlphabet {
  /** Class index of the blank. */
  readonly blank: number;
  /** Symbol of every class, by index; the blank's entry is never written. */
  readonly symbols: readonly string[];
}

/**
 * The classes of a recognizer whose dictionary file lists one symbol per line: the blank at
 * `blank`, the dictionary's symbols in order in the other classes, then `append` (PaddleOCR's
 * recognizers add a space after their dictionary).
 */
export function alphabetFromLines(
  lines: readonly string[],
  options: { readonly blank?: number; readonly append?: readonly string[] } = {},
): CtcAlphabet {
  const blank = options.blank ?? 0;
  const symbols = [...lines, ...(options.append ?? [])];
  if (blank < 0 || blank > symbols.length)
    throw new RangeError(`blank ${blank} is outside the ${symbols.length + 1} classes`);
  symbols.splice(blank, 0, "");
  return { blank, symbols };
}

/** The lines of a dictionary file (a last empty line from the final newline is not a symbol). */
export function dictionaryLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

/**
 * Greedy (best-path) CTC decoding of scores laid out [rows, steps, classes]: the best class of
 * every step, repeats merged, blanks dropped. Scores may be probabilities or logits (only the
 * argmax is read).
 */
export function ctcGreedyDecode(
  scores: ArrayLike<number>,
  dims: readonly number[],
  alphabet: CtcAlphabet,
): string[] {
  if (dims.length !== 3)
    throw new RangeError(`CTC scores are [rows, steps, classes]; these have dims [${dims}]`);
  const [rows, steps, classes] = dims as [number, number, number];
  if (classes !== alphabet.symbols.length)
    throw new RangeError(
      `the scores have ${classes} classes, the alphabet ${alphabet.symbols.length} (blank included)`,
    );
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    let line = "";
    let previous = -1;
    for (let t = 0; t < steps; t++) {
      const at = (r * steps + t) * classes;
      let best = 0;
      let bestScore = scores[at]!;
      for (let c = 1; c < classes; c++) {
        const score = scores[at + c]!;
        if (score > bestScore) {
          bestScore = score;
          best = c;
        }
      }
      if (best !== previous && best !== alphabet.blank) line += alphabet.symbols[best];
      previous = best;
    }
    lines.push(line);
  }
  return lines;
}

/** Levenshtein distance between two strings, by Unicode code point. */
export function editDistance(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    for (let j = 1; j <= y.length; j++) {
      const substitute = previous[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1);
      current.push(Math.min(substitute, previous[j]! + 1, current[j - 1]! + 1));
    }
    previous = current;
  }
  return previous[y.length]!;
}

/** How recognized lines compare with the truth. */
export interface RecognitionScore {
  /** Character error rate: edit distance summed over the lines, over the truth's characters. */
  readonly cer: number;
  /** Share of lines recognized exactly. */
  readonly exact: number;
  readonly count: number;
}

export function scoreLines(
  predicted: readonly string[],
  truth: readonly string[],
): RecognitionScore {
  if (predicted.length !== truth.length)
    throw new RangeError(`${predicted.length} recognized lines for ${truth.length} labels`);
  let edits = 0;
  let characters = 0;
  let exact = 0;
  for (let i = 0; i < truth.length; i++) {
    edits += editDistance(predicted[i]!, truth[i]!);
    characters += [...truth[i]!].length;
    if (predicted[i] === truth[i]) exact++;
  }
  const count = truth.length;
  return {
    cer: characters > 0 ? edits / characters : Number.NaN,
    exact: count > 0 ? exact / count : Number.NaN,
    count,
  };
}
