// Forms and tables from field descriptions ({name, label, type, required}), the same
// for every page and every framework: which input a type gets, what an empty form
// holds, how typed text becomes the JSON body the service expects, and how a stored
// value is shown. Types: string, number, integer, boolean, date, json.

/** The input element a field type is edited with. */
export function inputKind(type) {
  switch (type) {
    case 'number':
    case 'integer':
      return 'number';
    case 'boolean':
      return 'checkbox';
    case 'date':
      return 'date';
    case 'json':
      return 'textarea';
    default:
      return 'text';
  }
}

/** The values of a fresh form: unchecked boxes, empty text. */
export function emptyValues(fields) {
  return Object.fromEntries(fields.map((f) => [f.name, f.type === 'boolean' ? false : '']));
}

const DATE = /^\d{4}-\d{2}-\d{2}/;

/**
 * The request body for a form's values, or the reason per field it cannot be sent:
 * `{ok, body, errors}`. Empty optional fields are left out, so the service applies
 * its own defaults.
 */
export function toPayload(fields, values) {
  const body = {};
  const errors = {};
  for (const f of fields) {
    const label = f.label || f.name;
    const raw = values[f.name];
    if (f.type === 'boolean') {
      body[f.name] = raw === true || raw === 'true' || raw === 'on';
      continue;
    }
    const text = raw === undefined || raw === null ? '' : String(raw).trim();
    if (text === '') {
      if (f.required) errors[f.name] = `${label} is required`;
      continue;
    }
    if (f.type === 'number' || f.type === 'integer') {
      const n = Number(text);
      if (!Number.isFinite(n)) errors[f.name] = `${label} must be a number`;
      else if (f.type === 'integer' && !Number.isInteger(n)) errors[f.name] = `${label} must be a whole number`;
      else body[f.name] = n;
    } else if (f.type === 'date') {
      if (!DATE.test(text) || Number.isNaN(Date.parse(text))) errors[f.name] = `${label} must be a date (YYYY-MM-DD)`;
      else body[f.name] = text;
    } else if (f.type === 'json') {
      try {
        body[f.name] = JSON.parse(text);
      } catch {
        errors[f.name] = `${label} must be JSON, e.g. {"key": "value"}`;
      }
    } else {
      body[f.name] = text;
    }
  }
  return { ok: Object.keys(errors).length === 0, body, errors };
}

/** A stored value as text for tables and detail pages. */
export function display(field, value) {
  if (value === undefined || value === null) return '';
  if (field.type === 'boolean') return value ? 'yes' : 'no';
  if (field.type === 'date') return String(value).slice(0, 10);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** A record's id, whichever name the service gives it. */
export function recordId(record) {
  if (!record || typeof record !== 'object') return undefined;
  return record.id ?? record._id ?? record.uuid;
}

/** The fields a list shows as columns: the first four keep a table readable. */
export function columns(fields) {
  return fields.slice(0, 4);
}
