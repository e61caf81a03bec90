// Unit tests for the hash routes (src/router.js).
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { href, parse } from '../src/router.js';

test('a hash names a page and a view', () => {
  assert.deepEqual(parse(''), { route: '', view: 'list' });
  assert.deepEqual(parse('#/payments'), { route: 'payments', view: 'list' });
  assert.deepEqual(parse('#/payments/new'), { route: 'payments', view: 'new' });
  assert.deepEqual(parse('#/payments/a%2Fb'), { route: 'payments', view: 'detail', id: 'a/b' });
  assert.deepEqual(parse('#payments/%E0'), { route: 'payments', view: 'detail', id: '%E0' });
});

test('href is the inverse of parse', () => {
  for (const [route, view, id] of [['order-items', 'list'], ['order-items', 'new'], ['order-items', 'detail', 'x/y z']]) {
    const p = parse(href(route, view, id));
    assert.deepEqual(p, id === undefined ? { route, view } : { route, view, id });
  }
});
