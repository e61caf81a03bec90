import { useEffect, useState } from 'react';
import { api } from '../api.js';
import { display } from '../fields.js';
import { href } from '../router.js';
import { Alert, Button, Details, Heading, Panel, Toolbar } from '../ui.jsx';

/** One record, every field of it. */
export default function ResourceDetail({ resource, id }) {
  const [state, setState] = useState({ record: null, error: '' });
  useEffect(() => {
    let live = true;
    api
      .resource(resource.path)
      .get(id)
      .then((record) => live && setState({ record, error: '' }))
      .catch((e) => live && setState({ record: null, error: e.message }));
    return () => {
      live = false;
    };
  }, [resource, id]);
  const { record, error } = state;
  return (
    <Panel>
      <Toolbar>
        <Heading>
          {resource.singular} {id}
        </Heading>
        <Button secondary href={href(resource.route)} testid={`back-${resource.route}`}>
          All {resource.title.toLowerCase()}
        </Button>
      </Toolbar>
      {error && <Alert testid="detail-error">{error}</Alert>}
      {record && (
        <Details
          testid={`${resource.route}-detail`}
          items={resource.fields.map((f) => ({ key: f.name, label: f.label, value: display(f, record[f.name]) }))}
        />
      )}
    </Panel>
  );
}
