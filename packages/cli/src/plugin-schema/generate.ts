import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { type CallExpression, Node, Project, SyntaxKind } from "ts-morph";
import { schemaErrors } from "./errors.js";
import { formatLiteral } from "./format-module.js";
import { type JsonSchema, nodeWhere } from "./jsdoc.js";
import { OptionsSchemaConverter } from "./type-to-schema.js";

/** The helpers whose type argument is an options type, and what each defines. */
const DEFINERS = { definePass: "pass", defineMetric: "metric", defineDataSource: "data source" };

/** Where the generated module goes inside a package, unless told otherwise. */
export const GENERATED_MODULE = join("src", "generated", "options.ts");

export interface GeneratedSchema {
  /** `quantize/dynamic-int8`, or the definer's call when the id is not a string literal. */
  readonly id: string;
  /** The options type's name and the constant exported for it. */
  readonly typeName: string;
  readonly exportName: string;
  readonly schema: JsonSchema;
}

export interface GeneratedModule {
  /** Absolute path of the module. */
  readonly file: string;
  readonly text: string;
  readonly schemas: readonly GeneratedSchema[];
}

/**
 * Reads a plugin package with ts-morph, finds every `definePass<Options>` (and defineMetric,
 * defineDataSource) in its sources and converts each options type, JSDoc included, to JSON
 * Schema. Returns the module text; `writeGeneratedModule` writes it.
 */
export function generateOptionsSchemas(
  packageDir: string,
  options: { out?: string } = {},
): GeneratedModule {
  const root = resolve(packageDir);
  const file = resolve(root, options.out ?? GENERATED_MODULE);
  const tsconfig = join(root, "tsconfig.json");
  const project = existsSync(tsconfig)
    ? new Project({ tsConfigFilePath: tsconfig })
    : new Project({ compilerOptions: { strict: true } });
  if (!existsSync(tsconfig)) project.addSourceFilesAtPaths(join(root, "src/**/*.ts"));
  const converter = new OptionsSchemaConverter(root);
  const schemas = new Map<string, GeneratedSchema>();
  const sources = project
    .getSourceFiles()
    .filter((source) => {
      const path = source.getFilePath();
      return (
        path.startsWith(`${root}/`) &&
        !path.includes(`${sep}node_modules${sep}`) &&
        !source.isDeclarationFile() &&
        resolve(path) !== file
      );
    })
    .sort((a, b) => a.getFilePath().localeCompare(b.getFilePath()));
  for (const source of sources) {
    for (const call of source.getDescendantsOfKind(SyntaxKind.CallExpression)) {
      const definer = definerName(call);
      if (!definer) continue;
      const generated = convertCall(call, definer, root, converter);
      if (!schemas.has(generated.exportName)) schemas.set(generated.exportName, generated);
    }
  }
  const list = [...schemas.values()];
  return {
    file,
    text: moduleText(list, relative(root, file), optionsSchemaImport(root, file)),
    schemas: list,
  };
}

/** Writes the module (temp file + rename: never half a file). */
export async function writeGeneratedModule(module: GeneratedModule): Promise<void> {
  await mkdir(dirname(module.file), { recursive: true });
  const temp = `${module.file}.${process.pid}.tmp`;
  await writeFile(temp, module.text);
  await rename(temp, module.file);
}

/** Whether the module on disk is what generation gives now. */
export async function isGeneratedModuleCurrent(module: GeneratedModule): Promise<boolean> {
  const existing = await readFile(module.file, "utf8").catch(() => undefined);
  return existing === module.text;
}

function definerName(call: CallExpression): keyof typeof DEFINERS | undefined {
  const callee = call.getExpression();
  const name = Node.isIdentifier(callee)
    ? callee.getText()
    : Node.isPropertyAccessExpression(callee)
      ? callee.getName()
      : undefined;
  // Own keys only: `x.toString()` is no definer, though "toString" is `in` every object.
  return name !== undefined && Object.hasOwn(DEFINERS, name)
    ? (name as keyof typeof DEFINERS)
    : undefined;
}

function convertCall(
  call: CallExpression,
  definer: keyof typeof DEFINERS,
  root: string,
  converter: OptionsSchemaConverter,
): GeneratedSchema {
  const where = nodeWhere(call, root);
  const definition = call.getArguments()[0];
  const id = definitionId(definition) ?? `${definer}(…)`;
  const typeArgument = call.getTypeArguments()[0];
  if (!typeArgument) {
    throw schemaErrors.badOptionsType(where, `${definer} "${id}"`, "");
  }
  if (!Node.isTypeReference(typeArgument) || typeArgument.getTypeArguments().length > 0) {
    throw schemaErrors.badOptionsType(where, `${definer} "${id}"`, typeArgument.getText());
  }
  const typeName = typeArgument.getTypeName().getText();
  const exportName = `${typeName[0]!.toLowerCase()}${typeName.slice(1)}Schema`;
  const written = optionsInitializer(definition);
  if (written !== exportName)
    throw schemaErrors.wrongSchemaReference(
      where,
      `${definer} "${id}"`,
      exportName,
      written ?? "missing",
    );
  const schema = converter.convertOptions(typeArgument.getType(), typeArgument);
  return { id, typeName, exportName, schema };
}

function definitionId(definition: Node | undefined): string | undefined {
  if (!definition || !Node.isObjectLiteralExpression(definition)) return undefined;
  const property = definition.getProperty("id");
  const initializer =
    property && Node.isPropertyAssignment(property) ? property.getInitializer() : undefined;
  return initializer && Node.isStringLiteral(initializer)
    ? initializer.getLiteralValue()
    : undefined;
}

/** The text of the definition's `options:`, to check that it is the generated constant. */
function optionsInitializer(definition: Node | undefined): string | undefined {
  if (!definition || !Node.isObjectLiteralExpression(definition)) return undefined;
  const property = definition.getProperty("options");
  if (property && Node.isShorthandPropertyAssignment(property)) return property.getName();
  if (property && Node.isPropertyAssignment(property)) return property.getInitializer()?.getText();
  return undefined;
}

/**
 * Where the generated module imports `OptionsSchema` from: `@lathe/core` for every plugin, and
 * the defining module itself for core's own metrics, data sources and passes (a package cannot
 * import itself by name).
 */
function optionsSchemaImport(root: string, file: string): string {
  const manifest = join(root, "package.json");
  const name = existsSync(manifest)
    ? (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name
    : undefined;
  if (name !== "@lathe/core") return "@lathe/core";
  const types = relative(dirname(file), join(root, "src", "plugin", "types.js"));
  return types.startsWith(".") ? types : `./${types}`;
}

function moduleText(schemas: readonly GeneratedSchema[], path: string, from: string): string {
  const header = [
    `// ${path}: generated by \`lathe plugin schema\` from the options types and their JSDoc.`,
    "// Do not edit: change the interface, then run the command again.",
  ];
  if (schemas.length === 0) return `${header.join("\n")}\n\nexport {};\n`;
  const blocks = schemas.map(
    (s) =>
      `/** The options of \`${s.id}\`, from \`${s.typeName}\`. */\nexport const ${s.exportName}: OptionsSchema = ${formatLiteral(s.schema)};\n`,
  );
  return `${header.join("\n")}\n\nimport type { OptionsSchema } from "${from}";\n\n${blocks.join("\n")}`;
}
