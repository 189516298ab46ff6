// Test-only driver: reads a JSON array of IAM simulation cases on stdin and prints one decision per
// case as a JSON array on stdout: {"decision": "allowed" | "explicitDeny" | "implicitDeny" | "error:<text>",
// "ignored": [context keys iam-simulate dropped because they do not apply to the action]}.
// Used by tests/iam_differential/test_iam_differential.py; never part of labrunner's runtime.
'use strict';
const { runSimulation } = require('@cloud-copilot/iam-simulate');

const DECISIONS = { Allowed: 'allowed', ExplicitlyDenied: 'explicitDeny', ImplicitlyDenied: 'implicitDeny' };

async function decide(c) {
  const simulation = {
    request: {
      principal: c.principal,
      action: c.action,
      resource: { resource: c.resource, accountId: c.resourceAccount },
      contextVariables: c.context || {},
    },
    identityPolicies: (c.identity || []).map((policy, i) => ({ name: `identity${i}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: c.resourcePolicy || undefined,
    permissionBoundaryPolicies: c.boundary ? [{ name: 'boundary', policy: c.boundary }] : undefined,
    sessionPolicy: c.session || undefined,
  };
  try {
    const result = await runSimulation(simulation, { simulationMode: 'Strict' });
    if (result.resultType === 'error') return { decision: 'error:' + JSON.stringify(result.errors), ignored: [] };
    const ignored = result.resultType === 'single' ? result.result.ignoredContextKeys || [] : [];
    return { decision: DECISIONS[result.overallResult] || 'error:' + result.overallResult, ignored };
  } catch (e) {
    return { decision: 'error:' + String(e && e.message ? e.message : e), ignored: [] };
  }
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const cases = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const out = [];
  for (const c of cases) out.push(await decide(c));
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
