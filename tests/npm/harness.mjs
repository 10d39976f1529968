// harness.mjs: what the node test scripts (tests/serve, tests/interop) share: loading an npm package
// from .scratch/npm (exit 77 = skip when it is missing) and named checks
// that print "ok" / "FAIL" lines.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(root, '.scratch/npm/package.json'));

export function requirePackage(name) {
  try {
    return require(name);
  } catch {
    console.log(`skipping: npm package ${name} is not installed (run scripts/setup-npm)`);
    process.exit(77);
  }
}

let failed = 0;

export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

export async function check(name, fn) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.stack ?? e}`);
  }
}

export function finish() {
  console.log(failed ? `${failed} check(s) failed` : 'all checks passed');
  process.exit(failed ? 1 : 0);
}
