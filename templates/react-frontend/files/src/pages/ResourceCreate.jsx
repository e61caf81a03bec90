import { useState } from 'react';
import { api } from '../api.js';
import { emptyValues, recordId, toPayload } from '../fields.js';
import { go, href } from '../router.js';
import { Alert, Button, ButtonRow, FieldInput, Form, Heading, Panel } from '../ui.jsx';

/** The form for a new record: one input per field, typed as the service expects. */
export default function ResourceCreate({ resource }) {
  const [values, setValues] = useState(() => emptyValues(resource.fields));
  const [errors, setErrors] = useState({});
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  async function submit(event) {
    event.preventDefault();
    const payload = toPayload(resource.fields, values);
    setErrors(payload.errors);
    if (!payload.ok) return;
    setBusy(true);
    setError('');
    try {
      const created = await api.resource(resource.path).create(payload.body);
      go(resource.route, 'detail', recordId(created));
    } catch (e) {
      setError(e.message);
      setBusy(false);
    }
  }

  return (
    <Panel>
      <Heading>New {resource.singular.toLowerCase()}</Heading>
      <Form onSubmit={submit} testid={`${resource.route}-form`}>
        {resource.fields.map((f) => (
          <FieldInput
            key={f.name}
            field={f}
            value={values[f.name]}
            error={errors[f.name]}
            onChange={(v) => setValues((s) => ({ ...s, [f.name]: v }))}
          />
        ))}
        {error && <Alert testid="form-error">{error}</Alert>}
        <ButtonRow>
          <Button type="submit" disabled={busy} testid="submit">
            Create
          </Button>
          <Button secondary href={href(resource.route)}>
            Cancel
          </Button>
        </ButtonRow>
      </Form>
    </Panel>
  );
}
