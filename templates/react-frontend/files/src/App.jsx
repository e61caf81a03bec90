import { useEffect, useState } from 'react';
import { api } from './api.js';
import { current, onRouteChange } from './router.js';
import { AUTH, DASHBOARD, RESOURCES, TITLE } from './resources.js';
import { Shell } from './ui.jsx';
import Dashboard from './pages/Dashboard.jsx';
import Login from './pages/Login.jsx';
import ResourceCreate from './pages/ResourceCreate.jsx';
import ResourceDetail from './pages/ResourceDetail.jsx';
import ResourceList from './pages/ResourceList.jsx';

const LINKS = [
  ...(DASHBOARD ? [{ route: 'dashboard', label: 'Dashboard' }] : []),
  ...RESOURCES.map((r) => ({ route: r.route, label: r.title })),
];

/** The page for a route: a resource's list, form or record; else the home page. */
function pageFor(route) {
  const resource = RESOURCES.find((r) => r.route === route.route);
  if (resource && route.view === 'new') return <ResourceCreate key={`${resource.route}-new`} resource={resource} />;
  if (resource && route.view === 'detail') return <ResourceDetail key={`${resource.route}-${route.id}`} resource={resource} id={route.id} />;
  if (resource) return <ResourceList key={resource.route} resource={resource} />;
  if (DASHBOARD) return <Dashboard />;
  if (RESOURCES[0]) return <ResourceList key={RESOURCES[0].route} resource={RESOURCES[0]} />;
  return <p>The workflow's services own no resources, so there are no pages.</p>;
}

export default function App() {
  const [signedIn, setSignedIn] = useState(!AUTH || api.isLoggedIn());
  const [route, setRoute] = useState(current());
  useEffect(() => api.onAuthChange((v) => setSignedIn(!AUTH || v)), []);
  useEffect(() => onRouteChange(setRoute), []);

  if (!signedIn) return <Login title={TITLE} />;
  const known = LINKS.some((l) => l.route === route.route);
  const active = known ? route.route : LINKS[0]?.route;
  return (
    <Shell
      title={TITLE}
      links={LINKS}
      active={active}
      user={AUTH ? api.session.user : null}
      onLogout={AUTH ? () => api.logout() : null}
    >
      {pageFor(route)}
    </Shell>
  );
}
