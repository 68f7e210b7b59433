// Starts a private nats-server (JetStream by default, optional auth and TLS) on a free loopback port.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ServerProcess, startProcess } from './server-process.js';

/** Options of {@link startNats}. */
export interface StartNatsOptions {
  /** @defaultValue true */
  jetstream?: boolean;
  /** Reuse a port (to restart a server in place). */
  port?: number;
  /** Require this user and password (`--user`, `--pass`); give `pass` with it. */
  user?: string;
  pass?: string;
  /** Require this token (`--auth`). */
  token?: string;
  /** Accept only these nkey users (public keys, `U…`): written to a config file the server reads. */
  nkeys?: string[];
  /**
   * More server configuration (nats-server's config syntax), e.g. `operator:` and `resolver:` for creds-file
   * (JWT) auth: written to the config file the server reads.
   */
  config?: string;
  /**
   * Serve TLS only, with this certificate and key; with `caFile` and `verify`, clients must show a certificate
   * that CA signed.
   */
  tls?: { certFile: string; keyFile: string; caFile?: string; verify?: boolean };
}

/** The auth and TLS arguments of {@link startNats}; an nkey user list goes to a config file in `dir`. */
function natsSecurityArgs(options: StartNatsOptions, dir: string): string[] {
  const given = [options.user, options.token, options.nkeys].filter((o) => o !== undefined);
  if (given.length > 1) throw new Error('startNats: give at most one of user, token, nkeys');
  const args: string[] = [];
  if (options.user !== undefined) args.push('--user', options.user, '--pass', options.pass ?? '');
  if (options.token !== undefined) args.push('--auth', options.token);
  const config: string[] = [];
  if (options.nkeys !== undefined) {
    const users = options.nkeys.map((k) => `    { nkey: ${JSON.stringify(k)} }`).join('\n');
    config.push(`authorization {\n  users = [\n${users}\n  ]\n}\n`);
  }
  if (options.config !== undefined) config.push(options.config);
  if (config.length > 0) {
    const file = join(dir, 'server.conf');
    writeFileSync(file, config.join('\n'));
    args.push('-c', file);
  }
  const { tls } = options;
  if (tls !== undefined) {
    args.push('--tls', '--tlscert', tls.certFile, '--tlskey', tls.keyFile);
    if (tls.caFile !== undefined) args.push('--tlscacert', tls.caFile);
    if (tls.verify === true) args.push('--tlsverify');
  }
  return args;
}

/**
 * Starts `nats-server` (with JetStream by default) on a free loopback port with a temporary store; with
 * `user`/`token`/`nkeys` it requires those credentials, with `tls` it serves TLS only.
 */
export function startNats(options: StartNatsOptions = {}): Promise<ServerProcess> {
  return startProcess(
    'nats-server',
    (port, dir) => [
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
      ...(options.jetstream === false ? [] : ['-js', '-sd', dir]),
      ...natsSecurityArgs(options, dir),
    ],
    'nats',
    options.port,
  );
}
