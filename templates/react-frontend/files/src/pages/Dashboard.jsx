import { useEffect, useState } from 'react';
import { api, extractTotal } from '../api.js';
import { RESOURCES } from '../resources.js';
import { Heading, Panel, Stat, Stats } from '../ui.jsx';

/** Whether the gateway is ready, and how many records each page holds. */
export default function Dashboard() {
  const [gateway, setGateway] = useState('…');
  const [counts, setCounts] = useState({});
  useEffect(() => {
    let live = true;
    api
      .health()
      .then((r) => live && setGateway(r.ok ? 'ready' : `HTTP ${r.status}`))
      .catch(() => live && setGateway('unreachable'));
    for (const r of RESOURCES) {
      api
        .resource(r.path)
        .list({ limit: 1 })
        .then((body) => live && setCounts((c) => ({ ...c, [r.route]: extractTotal(body, r.route) })))
        .catch(() => live && setCounts((c) => ({ ...c, [r.route]: '–' })));
    }
    return () => {
      live = false;
    };
  }, []);
  return (
    <Panel>
      <Heading>Dashboard</Heading>
      <Stats>
        <Stat label="Gateway" value={gateway} testid="stat-gateway" />
        {RESOURCES.map((r) => (
          <Stat key={r.route} label={r.title} value={counts[r.route] ?? '…'} testid={`stat-${r.route}`} />
        ))}
      </Stats>
    </Panel>
  );
}
