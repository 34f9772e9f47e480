/**
 * A pass test's failed expectation: what was expected and what happened, on separate lines, as
 * test runners print an assertion.
 */
export class ExpectationFailure extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${expected}\n  but: ${actual}`);
    this.name = "ExpectationFailure";
  }
}

export function failure(expected: string, actual: string): ExpectationFailure {
  return new ExpectationFailure(expected, actual);
}
