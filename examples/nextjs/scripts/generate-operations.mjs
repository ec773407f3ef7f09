// Builds src/lib/graphql/operations.generated.ts from the repository's front-end contract:
// every operation in tests/contract/operations/*.graphql, validated against schema.graphql, with
// TypeScript types for its variables and result. The .graphql files stay the single source of
// truth; this module is regenerated before dev, build and lint and is never committed. Each
// operation carries its documentId (sha256 of its text), which must be in the repository's
// trusted-documents.json (`taskql export-documents`): the app sends ids, never documents.
//
// Usage: node scripts/generate-operations.mjs [--check]
//   --check  exit 1 if the generated file is missing or out of date instead of writing it.

import { createHash } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  buildSchema,
  getNamedType,
  GraphQLEnumType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLScalarType,
  isInputObjectType,
  Kind,
  parse,
  Source,
  typeFromAST,
  validate,
  visit,
} from "graphql";

const appDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const repoRoot = resolve(appDir, "../..");
const schemaPath = join(repoRoot, "schema.graphql");
const operationsDir = join(repoRoot, "tests/contract/operations");
const manifestPath = join(repoRoot, "trusted-documents.json");
const outputPath = join(appDir, "src/lib/graphql/operations.generated.ts");

// How taskql's scalars arrive in JSON. DateTime is an ISO-8601 string (SPEC §2).
const SCALARS = { ID: "string", String: "string", Int: "number", Float: "number", Boolean: "boolean", DateTime: "string" };

function fail(message) {
  console.error(`generate-operations: ${message}`);
  process.exit(1);
}

function loadDocuments() {
  const files = readdirSync(operationsDir).filter((name) => name.endsWith(".graphql")).sort();
  if (files.length === 0) fail(`no .graphql files in ${operationsDir}`);
  const definitions = [];
  for (const file of files) {
    const body = readFileSync(join(operationsDir, file), "utf8");
    const document = parse(new Source(body, `tests/contract/operations/${file}`));
    for (const definition of document.definitions) definitions.push({ definition, body, file });
  }
  return definitions;
}

function sourceText({ definition, body }) {
  return body.slice(definition.loc.start, definition.loc.end);
}

function usedFragments(node, fragments, seen = new Set()) {
  visit(node, {
    FragmentSpread(spread) {
      const name = spread.name.value;
      if (seen.has(name)) return;
      seen.add(name);
      const fragment = fragments.get(name);
      if (!fragment) fail(`unknown fragment ${name}`);
      usedFragments(fragment.definition, fragments, seen);
    },
  });
  return seen;
}

function scalarType(type) {
  const ts = SCALARS[type.name];
  if (!ts) fail(`no TypeScript mapping for scalar ${type.name}; add it to SCALARS`);
  return ts;
}

// An output type: nullable unless wrapped in NonNull.
function outputType(type, leaf) {
  if (type instanceof GraphQLNonNull) return wrapOutput(type.ofType, leaf);
  return `${wrapOutput(type, leaf)} | null`;
}

function wrapOutput(type, leaf) {
  if (type instanceof GraphQLList) return `Array<${outputType(type.ofType, leaf)}>`;
  return leaf(type);
}

function inputType(type) {
  if (type instanceof GraphQLNonNull) return namedInput(type.ofType);
  return `${namedInput(type)} | null`;
}

function namedInput(type) {
  if (type instanceof GraphQLList) return `Array<${inputType(type.ofType)}>`;
  if (type instanceof GraphQLScalarType) return scalarType(type);
  return type.name;
}

function selectionType(parent, selectionSet, indent) {
  const fields = [];
  const spreads = [];
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FRAGMENT_SPREAD) {
      spreads.push(`${selection.name.value}Fragment`);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      spreads.push(selectionType(parent, selection.selectionSet, indent));
    } else {
      const name = selection.name.value;
      const key = selection.alias?.value ?? name;
      if (name === "__typename") {
        fields.push(`${indent}  ${key}: "${parent.name}";`);
        continue;
      }
      const field = parent.getFields()[name];
      const ts = outputType(field.type, (named) => {
        if (named instanceof GraphQLScalarType) return scalarType(named);
        if (named instanceof GraphQLEnumType) return named.name;
        if (named instanceof GraphQLObjectType) return selectionType(named, selection.selectionSet, `${indent}  `);
        fail(`abstract type ${named.name} is not supported by this generator`);
      });
      fields.push(`${indent}  ${key}: ${ts};`);
    }
  }
  const object = fields.length ? `{\n${fields.join("\n")}\n${indent}}` : "";
  return [...spreads, object].filter(Boolean).join(" & ") || "Record<string, never>";
}

// Input objects reachable from the operations' variables, and every enum of the schema (few, and
// they may appear in variables or results alike).
function collectTypes(operations, schema) {
  const inputs = new Set();
  const addInput = (type) => {
    const named = getNamedType(type);
    if (isInputObjectType(named) && !inputs.has(named)) {
      inputs.add(named);
      for (const field of Object.values(named.getFields())) addInput(field.type);
    }
  };
  for (const { definition } of operations) {
    for (const variable of definition.variableDefinitions ?? []) addInput(typeFromAST(schema, variable.type));
  }
  const enums = Object.values(schema.getTypeMap()).filter(
    (type) => type instanceof GraphQLEnumType && !type.name.startsWith("__"),
  );
  return { enums, inputs: [...inputs] };
}

function rootType(schema, operation) {
  const root = { query: schema.getQueryType(), mutation: schema.getMutationType(), subscription: schema.getSubscriptionType() }[operation];
  if (!root) fail(`the schema has no ${operation} type`);
  return root;
}

function documentId(text) {
  return `sha256:${createHash("sha256").update(text, "utf8").digest("hex")}`;
}

function generate() {
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
  const schema = buildSchema(readFileSync(schemaPath, "utf8"));
  const definitions = loadDocuments();
  const document = { kind: Kind.DOCUMENT, definitions: definitions.map((entry) => entry.definition) };
  const errors = validate(schema, document);
  if (errors.length) {
    fail(`operations do not validate against schema.graphql:\n${errors.map((error) => `  ${error.message} (${error.source?.name ?? ""})`).join("\n")}`);
  }

  const fragments = new Map();
  const operations = [];
  for (const entry of definitions) {
    if (entry.definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(entry.definition.name.value, entry);
    else if (entry.definition.kind === Kind.OPERATION_DEFINITION) {
      if (!entry.definition.name) fail(`anonymous operation in ${entry.file}`);
      operations.push(entry);
    }
  }

  const { enums, inputs } = collectTypes(operations, schema);
  const out = [
    "// Generated by scripts/generate-operations.mjs from tests/contract/operations/*.graphql,",
    "// validated against schema.graphql. Do not edit: change the .graphql files and regenerate.",
    "",
    "export type OperationKind = \"query\" | \"mutation\" | \"subscription\";",
    "",
    "/** A GraphQL operation whose result and variables types travel with it. */",
    "export interface Operation<TResult, TVariables, TKind extends OperationKind = OperationKind> {",
    "  readonly kind: TKind;",
    "  readonly name: string;",
    "  readonly query: string;",
    "  /** sha256 of `query`, as taskql's trusted-documents manifest names it: what is sent. */",
    "  readonly documentId: string;",
    "  /** Type-only: never set at run time. */",
    "  readonly __types?: (variables: TVariables) => TResult;",
    "}",
    "",
  ];
  for (const type of enums) {
    out.push(`export type ${type.name} = ${type.getValues().map((value) => JSON.stringify(value.name)).join(" | ")};`, "");
  }
  for (const type of inputs) {
    out.push(`export interface ${type.name} {`);
    for (const field of Object.values(type.getFields())) {
      const optional = !(field.type instanceof GraphQLNonNull) || field.defaultValue !== undefined;
      out.push(`  ${field.name}${optional ? "?" : ""}: ${inputType(field.type)};`);
    }
    out.push("}", "");
  }
  for (const [name, entry] of fragments) {
    const on = schema.getType(entry.definition.typeCondition.name.value);
    out.push(`export type ${name}Fragment = ${selectionType(on, entry.definition.selectionSet, "")};`, "");
  }
  for (const entry of operations) {
    const operation = entry.definition;
    const name = operation.name.value;
    const variables = (operation.variableDefinitions ?? []).map((variable) => {
      const type = typeFromAST(schema, variable.type);
      const optional = !(type instanceof GraphQLNonNull) || variable.defaultValue !== undefined;
      return `  ${variable.variable.name.value}${optional ? "?" : ""}: ${inputType(type)};`;
    });
    out.push(
      variables.length ? `export interface ${name}Variables {\n${variables.join("\n")}\n}` : `export type ${name}Variables = Record<string, never>;`,
      "",
      `export type ${name}Result = ${selectionType(rootType(schema, operation.operation), operation.selectionSet, "")};`,
      "",
    );
    const texts = [sourceText(entry), ...[...usedFragments(operation, fragments)].sort().map((fragment) => sourceText(fragments.get(fragment)))];
    const query = texts.join("\n\n");
    const id = documentId(query);
    if (manifest[id] !== query) fail(`${name} is not in trusted-documents.json; run taskql export-documents`);
    out.push(
      `export const ${name}: Operation<${name}Result, ${name}Variables, "${operation.operation}"> = {`,
      `  kind: "${operation.operation}",`,
      `  name: ${JSON.stringify(name)},`,
      `  query: ${JSON.stringify(query)},`,
      `  documentId: ${JSON.stringify(id)},`,
      "};",
      "",
    );
  }
  return { text: out.join("\n"), count: operations.length };
}

const { text, count } = generate();
const where = relative(process.cwd(), outputPath) || outputPath;
if (process.argv.includes("--check")) {
  if (!existsSync(outputPath) || readFileSync(outputPath, "utf8") !== text) fail(`${where} is out of date; run npm run operations`);
} else {
  mkdirSync(dirname(outputPath), { recursive: true });
  if (!existsSync(outputPath) || readFileSync(outputPath, "utf8") !== text) writeFileSync(outputPath, text);
  console.log(`generate-operations: ${count} operations from ${relative(appDir, operationsDir)} -> ${where}`);
}
