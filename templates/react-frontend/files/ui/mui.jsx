// The building blocks every page is drawn with, as Material UI components. The pages
// only use these, so the look changes here without touching them.
import MuiAlert from '@mui/material/Alert';
import AppBar from '@mui/material/AppBar';
import Box from '@mui/material/Box';
import MuiButton from '@mui/material/Button';
import Checkbox from '@mui/material/Checkbox';
import Container from '@mui/material/Container';
import FormControlLabel from '@mui/material/FormControlLabel';
import Paper from '@mui/material/Paper';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import TextField from '@mui/material/TextField';
import MuiToolbar from '@mui/material/Toolbar';
import Typography from '@mui/material/Typography';
import { inputKind } from './fields.js';

export function Shell({ title, links, active, user, onLogout, children }) {
  return (
    <Box>
      <AppBar position="static">
        <MuiToolbar sx={{ gap: 2, flexWrap: 'wrap' }}>
          <Typography variant="h6" component="div" data-testid="app-title" noWrap>
            {title}
          </Typography>
          <Box sx={{ flexGrow: 1, display: 'flex', gap: 1, flexWrap: 'wrap' }}>
            {links.map((l) => (
              <MuiButton
                key={l.route}
                href={`#/${l.route}`}
                color="inherit"
                variant={l.route === active ? 'outlined' : 'text'}
                data-testid={`nav-${l.route}`}
              >
                {l.label}
              </MuiButton>
            ))}
          </Box>
          {user && user.email && (
            <Typography variant="body2" data-testid="current-user">
              {user.email}
            </Typography>
          )}
          {onLogout && (
            <MuiButton color="inherit" onClick={onLogout} data-testid="logout">
              Sign out
            </MuiButton>
          )}
        </MuiToolbar>
      </AppBar>
      <Container sx={{ py: 3 }} maxWidth="lg">
        {children}
      </Container>
    </Box>
  );
}

export const Centered = ({ children }) => (
  <Box sx={{ minHeight: '100vh', display: 'flex', alignItems: 'center', justifyContent: 'center', p: 2 }}>{children}</Box>
);
export const Panel = ({ children }) => (
  <Paper sx={{ p: 3, width: '100%', maxWidth: 960 }} elevation={2}>
    {children}
  </Paper>
);
export const Heading = ({ children }) => (
  <Typography variant="h5" component="h1" gutterBottom>
    {children}
  </Typography>
);
export const Toolbar = ({ children }) => (
  <Stack direction="row" spacing={2} sx={{ mb: 2, justifyContent: 'space-between', alignItems: 'center' }}>
    {children}
  </Stack>
);
export const ButtonRow = ({ children }) => (
  <Stack direction="row" spacing={1}>
    {children}
  </Stack>
);
export const Muted = ({ children }) => (
  <Typography variant="body2" color="text.secondary" sx={{ mt: 1 }}>
    {children}
  </Typography>
);
export const Alert = ({ children, testid }) => (
  <MuiAlert severity="error" data-testid={testid}>
    {children}
  </MuiAlert>
);

export function Button({ children, onClick, href, type = 'button', secondary, disabled, testid }) {
  return (
    <MuiButton
      variant={secondary ? 'outlined' : 'contained'}
      type={href ? undefined : type}
      href={href}
      onClick={onClick}
      disabled={disabled}
      data-testid={testid}
    >
      {children}
    </MuiButton>
  );
}

export const Form = ({ children, onSubmit, testid }) => (
  <Stack component="form" spacing={2} onSubmit={onSubmit} data-testid={testid} noValidate>
    {children}
  </Stack>
);

export function TextInput({ label, name, type = 'text', value, onChange, autoComplete, required }) {
  return (
    <TextField
      label={label}
      name={name}
      type={type}
      value={value}
      autoComplete={autoComplete}
      required={required}
      onChange={(e) => onChange(e.target.value)}
    />
  );
}

/** The input for one field of a resource, by its type. */
export function FieldInput({ field, value, error, onChange }) {
  const kind = inputKind(field.type);
  const testid = `field-${field.name}`;
  if (kind === 'checkbox') {
    return (
      <FormControlLabel
        label={field.label}
        control={
          <Checkbox checked={Boolean(value)} onChange={(e) => onChange(e.target.checked)} slotProps={{ input: { 'data-testid': testid } }} />
        }
      />
    );
  }
  return (
    <TextField
      label={field.label}
      required={field.required}
      type={kind === 'textarea' ? 'text' : kind}
      multiline={kind === 'textarea'}
      minRows={kind === 'textarea' ? 3 : undefined}
      value={value}
      error={Boolean(error)}
      helperText={error || ' '}
      onChange={(e) => onChange(e.target.value)}
      slotProps={{
        inputLabel: kind === 'date' ? { shrink: true } : undefined,
        htmlInput: { 'data-testid': testid, step: field.type === 'integer' ? '1' : field.type === 'number' ? 'any' : undefined },
      }}
    />
  );
}

export function DataTable({ testid, rowTestid, headers, rows, empty }) {
  return (
    <Table size="small" data-testid={testid}>
      <TableHead>
        <TableRow>
          {headers.map((h) => (
            <TableCell key={h}>{h}</TableCell>
          ))}
        </TableRow>
      </TableHead>
      <TableBody>
        {rows.length === 0 && (
          <TableRow>
            <TableCell colSpan={Math.max(headers.length, 1)}>{empty}</TableCell>
          </TableRow>
        )}
        {rows.map((r) => (
          <TableRow key={r.key} hover onClick={r.onOpen} sx={{ cursor: 'pointer' }} data-testid={rowTestid}>
            {r.cells.map((c, i) => (
              <TableCell key={i}>{c}</TableCell>
            ))}
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}

export function Details({ testid, items }) {
  return (
    <Box component="dl" sx={{ display: 'grid', gridTemplateColumns: '1fr 2fr', gap: 1, m: 0 }} data-testid={testid}>
      {items.map((it) => [
        <Typography key={`${it.key}-t`} component="dt" color="text.secondary">
          {it.label}
        </Typography>,
        <Typography key={`${it.key}-d`} component="dd" sx={{ m: 0, overflowWrap: 'anywhere' }} data-testid={`value-${it.key}`}>
          {it.value}
        </Typography>,
      ])}
    </Box>
  );
}

export const Stats = ({ children }) => (
  <Box sx={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fill, minmax(12rem, 1fr))', gap: 2 }}>{children}</Box>
);
export const Stat = ({ label, value, testid }) => (
  <Paper variant="outlined" sx={{ p: 2 }}>
    <Typography variant="body2" color="text.secondary">
      {label}
    </Typography>
    <Typography variant="h5" data-testid={testid}>
      {value}
    </Typography>
  </Paper>
);
