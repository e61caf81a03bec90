// Hash routing (#/products) in a few lines: no router dependency, and deep links
// work on any static file server without rewrite rules.
import { useEffect, useState } from 'react';

export function currentRoute() {
  const h = typeof window === 'undefined' ? '' : window.location.hash;
  return h.replace(/^#\/?/, '') || '';
}

export function navigate(route) {
  window.location.hash = `#/${route}`;
}

export function useRoute() {
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const on = () => setRoute(currentRoute());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
