/** Helpers for metrics over a bundle of one or more components. */

/**
 * One component's values as they are; several components' values prefixed with the component
 * name (`unet.p50`), so constraints can address each.
 */
export function mergeComponents(
  perComponent: ReadonlyMap<string, Record<string, number>>,
): Record<string, number> {
  if (perComponent.size === 1) return { ...[...perComponent.values()][0]! };
  const merged: Record<string, number> = {};
  for (const [component, values] of perComponent) {
    for (const [key, value] of Object.entries(values)) merged[`${component}.${key}`] = value;
  }
  return merged;
}
