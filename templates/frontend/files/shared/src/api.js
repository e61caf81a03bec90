// The only module that talks to the backend. Every request goes through the API
// gateway (same-origin `/api/...`, forwarded by the dev server or nginx), carries the
// access token when there is one, and a fresh x-correlation-id so a request can be
// followed through the gateway's and the services' logs.

const ACCESS_KEY = 'app.accessToken';
const REFRESH_KEY = 'app.refreshToken';
const USER_KEY = 'app.user';

/** Storage that works in the browser and falls back to memory elsewhere (tests, SSR). */
export function createMemoryStorage() {
  const data = new Map();
  return {
    getItem: (k) => (data.has(k) ? data.get(k) : null),
    setItem: (k, v) => data.set(k, String(v)),
    removeItem: (k) => data.delete(k),
  };
}

function defaultStorage() {
  try {
    if (typeof window !== 'undefined' && window.localStorage) return window.localStorage;
  } catch {
    // localStorage can throw in private modes; memory is good enough then.
  }
  return createMemoryStorage();
}

/** An error with the HTTP status and the server's message, for the UI to show. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
  }
}

/** Pulls the tokens out of an auth response, whatever casing the service uses. */
export function extractTokens(body) {
  const src = body && typeof body === 'object' ? (body.tokens || body.data || body) : {};
  const access = src.accessToken || src.access_token || src.token || null;
  const refresh = src.refreshToken || src.refresh_token || null;
  return { access, refresh };
}

/** Lists come back as an array or wrapped ({items}, {data}, {results}, or under the resource's name). */
export function extractList(body, key) {
  if (Array.isArray(body)) return body;
  if (!body || typeof body !== 'object') return [];
  for (const k of [key, 'items', 'data', 'results']) {
    if (k && Array.isArray(body[k])) return body[k];
  }
  return [];
}

/** Total count for paged lists, falling back to the number of items received. */
export function extractTotal(body, key) {
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const t = body.total ?? body.count ?? (body.pagination && body.pagination.total);
    if (typeof t === 'number') return t;
  }
  return extractList(body, key).length;
}

function newCorrelationId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID();
  return `${Date.now().toString(16)}-${Math.random().toString(16).slice(2)}`;
}

function messageFrom(status, body) {
  if (body && typeof body === 'object') {
    const m = body.error?.message || body.message || body.error;
    if (typeof m === 'string' && m) return m;
  }
  if (typeof body === 'string' && body) return body;
  return `request failed with HTTP ${status}`;
}

/**
 * Creates a client. `baseUrl` is empty in the browser (same origin); tests pass a
 * gateway URL and a fetch stub.
 */
export function createApi({ baseUrl = '', fetchImpl, storage } = {}) {
  const doFetch = fetchImpl || ((...a) => globalThis.fetch(...a));
  const store = storage || defaultStorage();
  const listeners = new Set();

  const session = {
    get accessToken() {
      return store.getItem(ACCESS_KEY);
    },
    get refreshToken() {
      return store.getItem(REFRESH_KEY);
    },
    get user() {
      const raw = store.getItem(USER_KEY);
      try {
        return raw ? JSON.parse(raw) : null;
      } catch {
        return null;
      }
    },
  };

  function notify() {
    for (const l of listeners) l(session.accessToken != null);
  }

  function saveSession(body, fallbackUser) {
    const { access, refresh } = extractTokens(body);
    if (!access) throw new ApiError(502, 'the auth service answered without an access token', body);
    store.setItem(ACCESS_KEY, access);
    if (refresh) store.setItem(REFRESH_KEY, refresh);
    const user = (body && (body.user || body.data?.user)) || fallbackUser || null;
    if (user) store.setItem(USER_KEY, JSON.stringify(user));
    notify();
  }

  function clearSession() {
    store.removeItem(ACCESS_KEY);
    store.removeItem(REFRESH_KEY);
    store.removeItem(USER_KEY);
    notify();
  }

  async function raw(method, path, body, { auth = true } = {}) {
    const headers = { accept: 'application/json', 'x-correlation-id': newCorrelationId() };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const token = session.accessToken;
    if (auth && token) headers.authorization = `Bearer ${token}`;
    const res = await doFetch(`${baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text for the error message
    }
    return { status: res.status, ok: res.ok, body: parsed };
  }

  let refreshing = null;
  async function refresh() {
    const token = session.refreshToken;
    if (!token) return false;
    if (!refreshing) {
      refreshing = raw('POST', '/api/auth/refresh', { refreshToken: token }, { auth: false })
        .then((r) => {
          if (!r.ok) return false;
          saveSession(r.body, session.user);
          return true;
        })
        .catch(() => false)
        .finally(() => {
          refreshing = null;
        });
    }
    return refreshing;
  }

  /** A request that refreshes the access token once on 401, then gives up and logs out. */
  async function request(method, path, body) {
    let r = await raw(method, path, body);
    if (r.status === 401 && (await refresh())) r = await raw(method, path, body);
    if (r.status === 401) clearSession();
    if (!r.ok) throw new ApiError(r.status, messageFrom(r.status, r.body), r.body);
    return r.body;
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    }
    const s = q.toString();
    return s ? `?${s}` : '';
  }

  return {
    session,
    onAuthChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    isLoggedIn: () => session.accessToken != null,
    async login(email, password) {
      const r = await raw('POST', '/api/auth/login', { email, password }, { auth: false });
      if (!r.ok) throw new ApiError(r.status, messageFrom(r.status, r.body), r.body);
      saveSession(r.body, { email });
      return session.user;
    },
    async register(email, password, name) {
      const r = await raw('POST', '/api/auth/register', { email, password, name }, { auth: false });
      if (!r.ok) throw new ApiError(r.status, messageFrom(r.status, r.body), r.body);
      // Some auth services return tokens on registration, others only the account.
      if (extractTokens(r.body).access) saveSession(r.body, { email, name });
      else await this.login(email, password);
      return session.user;
    },
    logout() {
      clearSession();
    },
    health: () => raw('GET', '/health/ready', undefined, { auth: false }),
    /**
     * The client of one resource's routes under the gateway (`path` is e.g.
     * `/api/payments`): list (a page: `{items, total}`), one by id, create.
     */
    resource(path) {
      return {
        list: (params) => request('GET', `${path}${query(params)}`),
        get: (id) => request('GET', `${path}/${encodeURIComponent(id)}`),
        create: (body) => request('POST', path, body),
      };
    },
  };
}

/** The app's client: same-origin, so requests reach the gateway through the proxy. */
export const api = createApi();
