import { useState } from 'react';
import { api } from '../api.js';
import { Alert, Button, ButtonRow, Centered, Form, Heading, Panel, TextInput } from '../ui.jsx';

/** Sign in, or create an account (the auth service's register route) and sign in. */
export default function Login({ title }) {
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
    } catch (e) {
      setError(e.message || 'sign-in failed');
      setBusy(false);
    }
  }

  return (
    <Centered>
      <Panel>
        <Heading>{title}</Heading>
        <Form onSubmit={submit} testid="login-form">
          <ButtonRow>
            <Button secondary={mode !== 'login'} onClick={() => setMode('login')} testid="login-mode-login">
              Sign in
            </Button>
            <Button secondary={mode !== 'register'} onClick={() => setMode('register')} testid="login-mode-register">
              Create account
            </Button>
          </ButtonRow>
          {mode === 'register' && <TextInput label="Name" name="name" value={name} onChange={setName} required />}
          <TextInput label="Email" name="email" type="email" autoComplete="username" value={email} onChange={setEmail} required />
          <TextInput
            label="Password"
            name="password"
            type="password"
            autoComplete={mode === 'login' ? 'current-password' : 'new-password'}
            value={password}
            onChange={setPassword}
            required
          />
          {error && <Alert testid="login-error">{error}</Alert>}
          <Button type="submit" disabled={busy} testid="login-submit">
            {mode === 'login' ? 'Sign in' : 'Create account'}
          </Button>
        </Form>
      </Panel>
    </Centered>
  );
}
