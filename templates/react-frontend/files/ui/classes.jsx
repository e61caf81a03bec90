// The building blocks every page is drawn with, as plain elements styled by the
// class table in ui-classes.js (Tailwind, Bootstrap or the app's own CSS). The pages
// only use these, so the look changes here without touching them.
import { inputKind } from './fields.js';
import { cls } from './ui-classes.js';

export function Shell({ title, links, active, user, onLogout, children }) {
  return (
    <div className={cls.shell}>
      <nav className={cls.nav}>
        <span className={cls.brand} data-testid="app-title">
          {title}
        </span>
        <div className={cls.navLinks}>
          {links.map((l) => (
            <a key={l.route} href={`#/${l.route}`} className={l.route === active ? cls.navLinkActive : cls.navLink} data-testid={`nav-${l.route}`}>
              {l.label}
            </a>
          ))}
        </div>
        {user && user.email && (
          <span className={cls.navUser} data-testid="current-user">
            {user.email}
          </span>
        )}
        {onLogout && (
          <button type="button" className={cls.navButton} onClick={onLogout} data-testid="logout">
            Sign out
          </button>
        )}
      </nav>
      <main className={cls.main}>{children}</main>
    </div>
  );
}

export const Centered = ({ children }) => <div className={cls.center}>{children}</div>;
export const Panel = ({ children }) => <section className={cls.card}>{children}</section>;
export const Heading = ({ children }) => <h1 className={cls.h1}>{children}</h1>;
export const Toolbar = ({ children }) => <div className={cls.toolbar}>{children}</div>;
export const ButtonRow = ({ children }) => <div className={cls.btnRow}>{children}</div>;
export const Muted = ({ children }) => <p className={cls.muted}>{children}</p>;
export const Alert = ({ children, testid }) => (
  <div role="alert" className={cls.alert} data-testid={testid}>
    {children}
  </div>
);

export function Button({ children, onClick, href, type = 'button', secondary, disabled, testid }) {
  const className = secondary ? cls.btnSecondary : cls.btn;
  if (href) {
    return (
      <a href={href} className={className} data-testid={testid}>
        {children}
      </a>
    );
  }
  return (
    <button type={type} className={className} onClick={onClick} disabled={disabled} data-testid={testid}>
      {children}
    </button>
  );
}

export const Form = ({ children, onSubmit, testid }) => (
  <form className={cls.form} onSubmit={onSubmit} data-testid={testid} noValidate>
    {children}
  </form>
);

export function TextInput({ label, name, type = 'text', value, onChange, autoComplete, required }) {
  return (
    <label className={cls.label}>
      {label}
      <input
        className={cls.input}
        name={name}
        type={type}
        value={value}
        autoComplete={autoComplete}
        required={required}
        onChange={(e) => onChange(e.target.value)}
      />
    </label>
  );
}

/** The input for one field of a resource, by its type. */
export function FieldInput({ field, value, error, onChange }) {
  const kind = inputKind(field.type);
  const testid = `field-${field.name}`;
  const label = field.required ? `${field.label} *` : field.label;
  if (kind === 'checkbox') {
    return (
      <label className={cls.checkLabel}>
        <input type="checkbox" className={cls.checkbox} checked={Boolean(value)} onChange={(e) => onChange(e.target.checked)} data-testid={testid} />
        {label}
      </label>
    );
  }
  return (
    <label className={cls.label}>
      {label}
      {kind === 'textarea' ? (
        <textarea className={cls.input} rows={3} value={value} onChange={(e) => onChange(e.target.value)} data-testid={testid} />
      ) : (
        <input
          className={cls.input}
          type={kind}
          step={field.type === 'integer' ? '1' : field.type === 'number' ? 'any' : undefined}
          value={value}
          onChange={(e) => onChange(e.target.value)}
          data-testid={testid}
        />
      )}
      {error && <span className={cls.fieldError}>{error}</span>}
    </label>
  );
}

export function DataTable({ testid, rowTestid, headers, rows, empty }) {
  return (
    <table className={cls.table} data-testid={testid}>
      <thead>
        <tr>
          {headers.map((h) => (
            <th key={h} className={cls.th}>
              {h}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.length === 0 && (
          <tr>
            <td className={cls.td} colSpan={Math.max(headers.length, 1)}>
              {empty}
            </td>
          </tr>
        )}
        {rows.map((r) => (
          <tr key={r.key} className={cls.row} onClick={r.onOpen} data-testid={rowTestid}>
            {r.cells.map((c, i) => (
              <td key={i} className={cls.td}>
                {c}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Details({ testid, items }) {
  return (
    <dl className={cls.dl} data-testid={testid}>
      {items.map((it) => [
        <dt key={`${it.key}-t`} className={cls.dt}>
          {it.label}
        </dt>,
        <dd key={`${it.key}-d`} className={cls.dd} data-testid={`value-${it.key}`}>
          {it.value}
        </dd>,
      ])}
    </dl>
  );
}

export const Stats = ({ children }) => <div className={cls.stats}>{children}</div>;
export const Stat = ({ label, value, testid }) => (
  <div className={cls.stat}>
    <div className={cls.muted}>{label}</div>
    <div className={cls.statValue} data-testid={testid}>
      {value}
    </div>
  </div>
);
