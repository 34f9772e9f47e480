import { LatheError } from "@lathe/core";

/** The errors of `lathe plugin schema`: each names the option's path and what to write instead. */
export const schemaErrors = {
  unsupportedType: (where: string, path: string, typeText: string, why: string) =>
    new LatheError(
      "OPTIONS_TYPE_UNSUPPORTED",
      `option "${path}" has type \`${typeText}\`: ${why}`,
      {
        where,
        hint: "options are JSON from a YAML recipe: write string, number (add @integer for whole numbers), boolean, a union of string or number literals, an array (T[]), Record<string, T>, or an interface of these",
      },
    ),
  missingDescription: (where: string, path: string) =>
    new LatheError("OPTIONS_UNDOCUMENTED", `option "${path}" has no description`, {
      where,
      hint: "write a /** … */ comment above it: editors, `lathe plugins describe` and the recipe schema show it",
    }),
  badTag: (where: string, path: string, tag: string, why: string) =>
    new LatheError("OPTIONS_TAG_INVALID", `option "${path}": @${tag} ${why}`, {
      where,
      hint: "tags: @default <JSON>, @minimum/@maximum/@exclusiveMinimum/@exclusiveMaximum <number>, @integer, @pattern <regex>, @minItems/@maxItems/@minLength/@maxLength/@minProperties/@maxProperties <integer>, @uniqueItems, @examples <JSON array>",
    }),
  badOptionsType: (where: string, passCall: string, typeText: string) =>
    new LatheError(
      "OPTIONS_TYPE_NOT_NAMED",
      `${passCall}<${typeText}>: the options type must be an interface or type alias declared by name`,
      {
        where,
        hint: "declare `export interface MyPassOptions { … }` with a JSDoc comment on each property and write definePass<MyPassOptions>",
      },
    ),
  wrongSchemaReference: (where: string, passCall: string, expected: string, actual: string) =>
    new LatheError(
      "OPTIONS_SCHEMA_NOT_GENERATED",
      `${passCall}'s options are \`${actual}\`, not the schema generated from its options type`,
      {
        where,
        hint: `write \`options: ${expected}\`, imported from the generated module, and run \`lathe plugin schema\``,
      },
    ),
};
