import { useEffect, useState } from 'react';
import { api, extractList, extractTotal } from '../api.js';
import { columns, display, recordId } from '../fields.js';
import { go, href } from '../router.js';
import { Alert, Button, DataTable, Heading, Muted, Panel, Toolbar } from '../ui.jsx';

/** A resource's records (the first page of 50), newest as the service orders them. */
export default function ResourceList({ resource }) {
  const [state, setState] = useState({ loading: true, items: [], total: 0, error: '' });
  useEffect(() => {
    let live = true;
    api
      .resource(resource.path)
      .list({ limit: 50 })
      .then((body) => live && setState({ loading: false, items: extractList(body, resource.route), total: extractTotal(body, resource.route), error: '' }))
      .catch((e) => live && setState({ loading: false, items: [], total: 0, error: e.message }));
    return () => {
      live = false;
    };
  }, [resource]);
  const cols = columns(resource.fields);
  const rows = state.items.map((item, i) => ({
    key: String(recordId(item) ?? i),
    cells: cols.map((f) => display(f, item[f.name])),
    onOpen: () => go(resource.route, 'detail', recordId(item)),
  }));
  return (
    <Panel>
      <Toolbar>
        <Heading>{resource.title}</Heading>
        <Button href={href(resource.route, 'new')} testid={`new-${resource.route}`}>
          New {resource.singular.toLowerCase()}
        </Button>
      </Toolbar>
      {state.error && <Alert testid="list-error">{state.error}</Alert>}
      <DataTable
        testid={`${resource.route}-table`}
        rowTestid={`${resource.route}-row`}
        headers={cols.map((f) => f.label)}
        rows={rows}
        empty={state.loading ? 'Loading…' : `No ${resource.title.toLowerCase()} yet.`}
      />
      <Muted>{state.total} in all</Muted>
    </Panel>
  );
}
