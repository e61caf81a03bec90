// Unit tests for the form/table rules every page shares (src/fields.js).
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { columns, display, emptyValues, inputKind, recordId, toPayload } from '../src/fields.js';

const FIELDS = [
  { name: 'title', label: 'Title', type: 'string', required: true },
  { name: 'amount', label: 'Amount', type: 'number', required: true },
  { name: 'quantity', label: 'Quantity', type: 'integer', required: false },
  { name: 'active', label: 'Active', type: 'boolean', required: false },
  { name: 'dueDate', label: 'Due date', type: 'date', required: false },
  { name: 'meta', label: 'Meta', type: 'json', required: false },
];

test('each type gets its input', () => {
  assert.deepEqual(
    FIELDS.map((f) => inputKind(f.type)),
    ['text', 'number', 'number', 'checkbox', 'date', 'textarea'],
  );
  assert.equal(inputKind('unknown'), 'text');
});

test('a fresh form is empty and unchecked', () => {
  assert.deepEqual(emptyValues(FIELDS), { title: '', amount: '', quantity: '', active: false, dueDate: '', meta: '' });
});

test('typed text becomes typed JSON; empty optional fields are left out', () => {
  const r = toPayload(FIELDS, { title: ' Rent ', amount: '12.50', quantity: '3', active: true, dueDate: '2026-03-01', meta: '{"k":[1]}' });
  assert.deepEqual(r, { ok: true, errors: {}, body: { title: 'Rent', amount: 12.5, quantity: 3, active: true, dueDate: '2026-03-01', meta: { k: [1] } } });
  const sparse = toPayload(FIELDS, { title: 'x', amount: '0' });
  assert.deepEqual(sparse.body, { title: 'x', amount: 0, active: false });
});

test('each field says what is wrong with it', () => {
  const r = toPayload(FIELDS, { title: '', amount: 'ten', quantity: '1.5', dueDate: '03/01/2026', meta: '{bad' });
  assert.equal(r.ok, false);
  assert.deepEqual(r.errors, {
    title: 'Title is required',
    amount: 'Amount must be a number',
    quantity: 'Quantity must be a whole number',
    dueDate: 'Due date must be a date (YYYY-MM-DD)',
    meta: 'Meta must be JSON, e.g. {"key": "value"}',
  });
});

test('stored values are shown as text', () => {
  assert.equal(display(FIELDS[3], true), 'yes');
  assert.equal(display(FIELDS[3], false), 'no');
  assert.equal(display(FIELDS[4], '2026-03-01T00:00:00.000Z'), '2026-03-01');
  assert.equal(display(FIELDS[5], { a: 1 }), '{"a":1}');
  assert.equal(display(FIELDS[1], 0), '0');
  assert.equal(display(FIELDS[0], null), '');
});

test('ids and columns', () => {
  assert.equal(recordId({ id: 7 }), 7);
  assert.equal(recordId({ _id: 'm' }), 'm');
  assert.equal(recordId(null), undefined);
  assert.deepEqual(columns(FIELDS).map((f) => f.name), ['title', 'amount', 'quantity', 'active']);
});
