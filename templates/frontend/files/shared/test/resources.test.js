// The generated page list (src/resources.js) is usable: every page has a route, a
// gateway path under /api and typed fields, and no two pages share a route.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { RESOURCES } from '../src/resources.js';

const TYPES = ['string', 'number', 'integer', 'boolean', 'date', 'json'];

test('every page talks to the gateway and describes its fields', () => {
  const routes = new Set();
  for (const r of RESOURCES) {
    assert.match(r.route, /^[a-z0-9-]+$/, `route of ${r.title}`);
    assert.ok(!routes.has(r.route), `two pages named ${r.route}`);
    routes.add(r.route);
    assert.ok(r.path.startsWith('/api/'), `${r.title} calls ${r.path}, not the gateway's /api`);
    for (const f of r.fields) {
      assert.ok(TYPES.includes(f.type), `${r.title}.${f.name} has type ${f.type}`);
      assert.equal(typeof f.label, 'string');
    }
  }
});
