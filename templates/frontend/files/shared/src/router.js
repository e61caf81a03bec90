// Hash routes (`#/payments`, `#/payments/new`, `#/payments/<id>`): no router
// dependency, and deep links work on any static file server without rewrite rules.
// The frameworks only subscribe; what a route means is decided here.

/** `{route, view: 'list'|'new'|'detail', id}` for a location hash. */
export function parse(hash) {
  const parts = String(hash || '')
    .replace(/^#\/?/, '')
    .split('/')
    .filter(Boolean)
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  const [route = '', second] = parts;
  if (second === undefined) return { route, view: 'list' };
  if (second === 'new') return { route, view: 'new' };
  return { route, view: 'detail', id: second };
}

/** The hash for a route (`href('payments', 'detail', id)`). */
export function href(route, view = 'list', id) {
  const base = `#/${encodeURIComponent(route)}`;
  if (view === 'new') return `${base}/new`;
  if (view === 'detail') return `${base}/${encodeURIComponent(id)}`;
  return base;
}

export function current() {
  return parse(typeof window === 'undefined' ? '' : window.location.hash);
}

export function go(route, view, id) {
  window.location.hash = href(route, view, id);
}

/** Calls `fn(current())` on every route change; returns the unsubscribe function. */
export function onRouteChange(fn) {
  const handler = () => fn(current());
  window.addEventListener('hashchange', handler);
  return () => window.removeEventListener('hashchange', handler);
}
