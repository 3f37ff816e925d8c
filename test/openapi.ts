import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

// Cal.com's own spec, vendored with its provenance (vendor/calcom/SOURCE.md).
const specPath = fileURLToPath(new URL('../vendor/calcom/openapi-v2.json', import.meta.url));

let ajv: Ajv | undefined;

/** A validator for one component schema of openapi-v2.json (OpenAPI 3 keywords tolerated). */
export function specValidator(schemaName: string): ValidateFunction {
  if (!ajv) {
    const spec = JSON.parse(readFileSync(specPath, 'utf8'));
    ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
    (addFormatsModule as unknown as (a: Ajv) => void)(ajv);
    ajv.addKeyword('example');
    ajv.addSchema({ $id: 'cal', components: spec.components });
  }
  return ajv.compile({ $ref: `cal#/components/schemas/${schemaName}` });
}

/** The spec itself, for tests that compare a list Usher keeps with Cal.com's (languages, say). */
export function specSchema(schemaName: string): Record<string, unknown> {
  const spec = JSON.parse(readFileSync(specPath, 'utf8')) as { components: { schemas: Record<string, Record<string, unknown>> } };
  const schema = spec.components.schemas[schemaName];
  if (!schema) throw new Error(`openapi-v2.json has no schema ${schemaName}`);
  return schema;
}
