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
