// docs/API.md is the API reference; index.d.ts is the contract. Every member
// of every exported interface is documented, nothing documented is missing
// from the declarations, and the client object has every declared method.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createAnalytics } from '../../js/index.js';

const declarations = readFileSync(new URL('../../js/index.d.ts', import.meta.url), 'utf8');
const reference = readFileSync(new URL('../../docs/API.md', import.meta.url), 'utf8');

/** interface name → its member names, from the .d.ts. */
function declaredInterfaces() {
  const interfaces = new Map();
  for (const [, name, body] of declarations.matchAll(/export interface (\w+)(?:<[^>]*>)? (?:extends [^{]+ )?\{([\s\S]*?)\n\}/g)) {
    const members = new Set();
    for (const [, member] of body.matchAll(/^ {2}(?:readonly )?(\w+)\??[(:<]/gm)) members.add(member);
    interfaces.set(name, members);
  }
  return interfaces;
}

/** section name → the member names in the first column of its table, from API.md. */
function documentedSections() {
  const sections = new Map();
  for (const section of reference.split(/^## /m).slice(1)) {
    const name = section.slice(0, section.indexOf('\n')).trim();
    const members = new Set();
    for (const [, member] of section.matchAll(/^\| `(\w+)/gm)) members.add(member);
    sections.set(name, members);
  }
  return sections;
}

test('every exported interface has a section in the reference', () => {
  const documented = documentedSections();
  for (const name of declaredInterfaces().keys()) assert.ok(documented.has(name), `docs/API.md has no "## ${name}"`);
});

test('every declared member is documented, and every documented member is declared', () => {
  const documented = documentedSections();
  for (const [name, members] of declaredInterfaces()) {
    const rows = documented.get(name) ?? new Set();
    for (const member of members) assert.ok(rows.has(member), `${name}.${member} is not documented in docs/API.md`);
    for (const row of rows) assert.ok(members.has(row), `docs/API.md documents ${name}.${row}, which index.d.ts does not declare`);
  }
});

test('the client object has every method and property the declarations promise', () => {
  const analytics = createAnalytics({ endpoint: '/v1/batch' });
  for (const member of declaredInterfaces().get('Analytics')) {
    assert.ok(member in analytics, `createAnalytics() result has no ${member}`);
  }
});
