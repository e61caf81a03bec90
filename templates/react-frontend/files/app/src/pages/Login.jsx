import { useState } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Paper from '@mui/material/Paper';
import Stack from '@mui/material/Stack';
import Tab from '@mui/material/Tab';
import Tabs from '@mui/material/Tabs';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { api } from '../api.js';

const styles = {
  page: { minHeight: '100vh', display: 'flex', alignItems: 'center', justifyContent: 'center', p: 2 },
  card: { p: 4, width: '100%', maxWidth: 420 },
  tabs: { mb: 2 },
};

/** Sign in, or create an account (the auth service's register route) and sign in. */
export default function Login({ title, onLoggedIn }) {
  const [mode, setMode] = useState('login');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  async function submit(event) {
    event.preventDefault();
    setError('');
    setBusy(true);
    try {
      if (mode === 'login') await api.login(email, password);
      else await api.register(email, password, name);
      onLoggedIn();
    } catch (e) {
      setError(e.message || 'sign-in failed');
    } finally {
      setBusy(false);
    }
  }

  return (
    <Box sx={styles.page}>
      <Paper sx={styles.card} elevation={3} component="form" onSubmit={submit} data-testid="login-form">
        <Typography variant="h5" gutterBottom>
          {title}
        </Typography>
        <Tabs value={mode} onChange={(_, v) => setMode(v)} sx={styles.tabs}>
          <Tab label="Sign in" value="login" />
          <Tab label="Create account" value="register" />
        </Tabs>
        <Stack spacing={2}>
          {mode === 'register' && (
            <TextField label="Name" name="name" value={name} onChange={(e) => setName(e.target.value)} required />
          )}
          <TextField
            label="Email"
            name="email"
            type="email"
            autoComplete="username"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            required
          />
          <TextField
            label="Password"
            name="password"
            type="password"
            autoComplete={mode === 'login' ? 'current-password' : 'new-password'}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
          {error && <Alert severity="error">{error}</Alert>}
          <Button type="submit" variant="contained" disabled={busy} data-testid="login-submit">
            {mode === 'login' ? 'Sign in' : 'Create account'}
          </Button>
        </Stack>
      </Paper>
    </Box>
  );
}
