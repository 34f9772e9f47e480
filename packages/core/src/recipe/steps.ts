/** How steps connect: the planner and the recipe checks read `input:` the same way. */

/** The `input:` value that names the recipe's own model (so no step may be called this). */
export const RECIPE_INPUT = "model";

/**
 * Each step's source, in file order: its `input:`, else the step before it, else the recipe's
 * model. A disabled step passes its input through, so it stays a source like any other.
 */
export function stepSources(
  passes: Readonly<Record<string, { readonly input?: string | undefined }>>,
): Map<string, string> {
  const sources = new Map<string, string>();
  let previous = RECIPE_INPUT;
  for (const [id, step] of Object.entries(passes)) {
    sources.set(id, step.input ?? previous);
    previous = id;
  }
  return sources;
}

/**
 * Cycles among steps that read each other through `input:`, each as the step ids in reading
 * order starting from its first member in file order (`[a, b]`: a reads b, b reads a).
 */
export function inputCycles(sources: ReadonlyMap<string, string>): string[][] {
  const order = [...sources.keys()];
  const done = new Set<string>();
  const cycles: string[][] = [];
  for (const start of order) {
    const walk: string[] = [];
    let id: string | undefined = start;
    while (id !== undefined && sources.has(id) && !done.has(id) && !walk.includes(id)) {
      walk.push(id);
      id = sources.get(id);
    }
    if (id !== undefined && walk.includes(id)) {
      const cycle = walk.slice(walk.indexOf(id));
      const first = Math.min(...cycle.map((member) => order.indexOf(member)));
      const at = cycle.indexOf(order[first]!);
      cycles.push([...cycle.slice(at), ...cycle.slice(0, at)]);
    }
    for (const member of walk) done.add(member);
  }
  return cycles;
}
