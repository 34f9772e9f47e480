import { type Symbol as MorphSymbol, Node, type Type, type TypeNode, ts } from "ts-morph";
import { schemaErrors } from "./errors.js";
import { type DocSchema, type JsonSchema, nodeWhere, readDoc } from "./jsdoc.js";

/**
 * Converts an options type to JSON Schema. The type's syntax is followed where it is written
 * (unions and enums keep the order the author wrote, aliases bring their JSDoc along); the
 * checker answers what syntax cannot (inherited properties, `Omit<…>`, intersections).
 */
export class OptionsSchemaConverter {
  constructor(private readonly root: string) {}

  /** The schema of an options interface or alias: an object with every property documented. */
  convertOptions(type: Type, at: Node): JsonSchema {
    return this.objectSchema(type, at, "");
  }

  private objectSchema(type: Type, at: Node, path: string): JsonSchema {
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (const symbol of type.getProperties()) {
      const name = symbol.getName();
      const propertyPath = path ? `${path}.${name}` : name;
      const declaration = symbol.getDeclarations()[0];
      if (!declaration) {
        throw schemaErrors.unsupportedType(
          nodeWhere(at, this.root),
          propertyPath,
          type.getText(at),
          "a property without a declaration (computed by a mapped type) cannot carry a description",
        );
      }
      const where = nodeWhere(declaration, this.root);
      const doc = readDoc(declaration, propertyPath, where);
      const typeNode = Node.isPropertySignature(declaration)
        ? declaration.getTypeNode()
        : undefined;
      const optional = isOptional(symbol);
      const propertyType = symbol.getTypeAtLocation(at);
      const schema = this.convert(propertyType, typeNode, propertyPath, where, optional);
      const merged = withDoc(schema, doc, propertyPath, where);
      if (typeof merged.description !== "string")
        throw schemaErrors.missingDescription(where, propertyPath);
      properties[name] = merged;
      if (!optional && !("default" in merged)) required.push(name);
    }
    return {
      type: "object",
      additionalProperties: false,
      properties,
      ...(required.length > 0 ? { required } : {}),
    };
  }

  private convert(
    type: Type,
    node: TypeNode | undefined,
    path: string,
    where: string,
    optional = false,
  ): JsonSchema {
    if (node && Node.isParenthesizedTypeNode(node))
      return this.convert(type, node.getTypeNode(), path, where, optional);
    if (node && Node.isUnionTypeNode(node))
      return this.unionSchema(
        node.getTypeNodes().map((member) => ({ type: member.getType(), node: member })),
        path,
        where,
        optional,
      );
    if (
      node &&
      Node.isTypeOperatorTypeNode(node) &&
      node.getOperator() === ts.SyntaxKind.ReadonlyKeyword
    )
      return this.convert(type, node.getTypeNode(), path, where, optional);
    if (node && Node.isArrayTypeNode(node)) {
      const element = node.getElementTypeNode();
      return { type: "array", items: this.convert(element.getType(), element, `${path}[]`, where) };
    }
    if (node && Node.isTypeReference(node)) {
      const name = node.getTypeName().getText();
      const args = node.getTypeArguments();
      if ((name === "Array" || name === "ReadonlyArray") && args[0])
        return {
          type: "array",
          items: this.convert(args[0].getType(), args[0], `${path}[]`, where),
        };
      if (name === "Record" && args[0] && args[1]) {
        if (!args[0].getType().isString())
          throw schemaErrors.unsupportedType(
            where,
            path,
            node.getText(),
            "a Record's keys must be string",
          );
        // Record<string, unknown>: any JSON object, checked by the pass itself.
        if (args[1].getType().isUnknown()) return { type: "object" };
        return {
          type: "object",
          additionalProperties: this.convert(args[1].getType(), args[1], `${path}.*`, where),
        };
      }
      const alias = aliasDeclaration(node);
      if (alias) {
        const aliasWhere = nodeWhere(alias, this.root);
        const doc = readDoc(alias, path, aliasWhere);
        const target = alias.getTypeNode();
        const schema = this.convert(type, target, path, aliasWhere, optional);
        return withDoc(schema, doc, path, aliasWhere);
      }
    }
    return this.typeSchema(type, node, path, where, optional);
  }

  /** What the checker knows, for types whose syntax we do not follow. */
  private typeSchema(
    type: Type,
    node: TypeNode | undefined,
    path: string,
    where: string,
    optional: boolean,
  ): JsonSchema {
    const text = node?.getText() ?? type.getText();
    const unsupported = (why: string) => schemaErrors.unsupportedType(where, path, text, why);
    if (type.isUnion())
      return this.unionSchema(
        type.getUnionTypes().map((member) => ({ type: member, node: undefined })),
        path,
        where,
        optional,
      );
    if (type.isString()) return { type: "string" };
    if (type.isNumber()) return { type: "number" };
    if (type.isBoolean()) return { type: "boolean" };
    if (type.isStringLiteral() || type.isNumberLiteral()) return { enum: [type.getLiteralValue()] };
    if (type.isBooleanLiteral()) return { enum: [type.getText() === "true"] };
    if (type.isAny() || type.isUnknown())
      throw unsupported("it says nothing a recipe can be checked against");
    if (type.isNull() || type.isUndefined())
      throw unsupported("leave the option out instead (mark it optional with `?`)");
    if (type.isTuple()) throw unsupported("tuples are not supported; use an array or an interface");
    if (type.isArray() || type.isReadonlyArray()) {
      const element = type.getArrayElementType() ?? type.getTypeArguments()[0];
      if (!element) throw unsupported("an array needs an element type");
      return {
        type: "array",
        items: this.typeSchema(element, undefined, `${path}[]`, where, false),
      };
    }
    if (type.getCallSignatures().length > 0 || type.getConstructSignatures().length > 0)
      throw unsupported("functions cannot be written in a recipe");
    if (type.isObject()) {
      const symbolName = type.getSymbol()?.getName();
      if (symbolName && BUILT_IN_OBJECTS.has(symbolName))
        throw unsupported(
          `${symbolName} is not JSON: recipes give strings, numbers, booleans, lists and maps`,
        );
      const indexType = type.getStringIndexType();
      const properties = type.getProperties();
      if (indexType && properties.length === 0)
        return {
          type: "object",
          additionalProperties: this.typeSchema(indexType, undefined, `${path}.*`, where, false),
        };
      if (indexType)
        throw unsupported(
          "an object with both properties and an index signature; use Record<string, T> or an interface",
        );
      for (const property of properties) {
        const declaration = property.getDeclarations()[0];
        if (declaration && Node.isMethodSignature(declaration))
          throw unsupported(`it has a method (${property.getName()}), so it is not plain data`);
      }
      return this.objectSchema(
        type,
        node ?? (type.getSymbol()?.getDeclarations()[0] as Node),
        path,
      );
    }
    throw unsupported("no JSON Schema corresponds to it");
  }

  /**
   * A union: literals of one kind become one `enum` (in the order written), `true | false` is
   * `boolean`, `undefined` is dropped from optional properties, anything else is `anyOf`.
   */
  private unionSchema(
    members: readonly { type: Type; node: TypeNode | undefined }[],
    path: string,
    where: string,
    optional: boolean,
  ): JsonSchema {
    const literals: (string | number | boolean)[] = [];
    const booleans = new Set<boolean>();
    const others: JsonSchema[] = [];
    const visit = (type: Type, node: TypeNode | undefined) => {
      if (type.isUndefined()) {
        if (optional) return;
        throw schemaErrors.unsupportedType(
          where,
          path,
          "undefined",
          "make the option optional with `?` instead",
        );
      }
      if (type.isStringLiteral() || type.isNumberLiteral()) {
        literals.push(type.getLiteralValue() as string | number);
        return;
      }
      if (type.isBooleanLiteral()) {
        booleans.add(type.getText() === "true");
        return;
      }
      if (type.isBoolean()) {
        booleans.add(true).add(false);
        return;
      }
      // An alias of a union (`Int8Kind | "auto"`): follow it to keep the written order.
      const alias = node && Node.isTypeReference(node) ? aliasDeclaration(node) : undefined;
      const aliased = alias?.getTypeNode();
      if (aliased && Node.isUnionTypeNode(aliased)) {
        for (const member of aliased.getTypeNodes()) visit(member.getType(), member);
        return;
      }
      if (!node && type.isUnion()) {
        for (const member of type.getUnionTypes()) visit(member, undefined);
        return;
      }
      others.push(this.convert(type, node, path, where));
    };
    for (const { type, node } of members) visit(type, node);
    const parts: JsonSchema[] = [];
    if (booleans.size === 2) parts.push({ type: "boolean" });
    else if (booleans.size === 1) literals.push(...booleans);
    if (literals.length > 0) parts.push({ enum: [...new Set(literals)] });
    parts.push(...others);
    if (parts.length === 1) return parts[0]!;
    return { anyOf: parts };
  }
}

/** Objects a recipe cannot write, named in the error. */
const BUILT_IN_OBJECTS = new Set([
  "Date",
  "Map",
  "Set",
  "WeakMap",
  "WeakSet",
  "RegExp",
  "Promise",
  "Error",
  "ArrayBuffer",
  "Uint8Array",
  "Float32Array",
  "Buffer",
]);

function isOptional(symbol: MorphSymbol): boolean {
  return (symbol.getFlags() & ts.SymbolFlags.Optional) !== 0;
}

/** The type alias a reference names, if it names one (interfaces are handled by the checker). */
function aliasDeclaration(node: Node) {
  if (!Node.isTypeReference(node)) return undefined;
  const symbol = node.getTypeName().getSymbol();
  const target = symbol?.isAlias() ? symbol.getAliasedSymbol() : symbol;
  const declaration = target?.getDeclarations().find((d) => Node.isTypeAliasDeclaration(d));
  return declaration && Node.isTypeAliasDeclaration(declaration) ? declaration : undefined;
}

/** Applies a JSDoc's description and tags to a schema; `@integer` turns `number` into `integer`. */
function withDoc(schema: JsonSchema, doc: DocSchema, path: string, where: string): JsonSchema {
  let result = schema;
  if (doc.integer) {
    if (schema.type !== "number")
      throw schemaErrors.badTag(where, path, "integer", "applies to numbers only");
    result = { ...schema, type: "integer" };
  }
  // The option's own words win over its alias's; `default` goes last, as people read it.
  const { description: aliasDescription, ...rest } = result;
  const description = doc.description ?? aliasDescription;
  const { default: value, ...keywords } = doc.keywords;
  return {
    ...(description !== undefined ? { description } : {}),
    ...rest,
    ...keywords,
    ...(value !== undefined ? { default: value } : {}),
  };
}
