// Finds the server binaries on PATH, and installs missing ones with apt-get when it can.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where a binary is on PATH (plus the sbin folders Debian installs servers to), or undefined. */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

const PACKAGES: Record<string, string> = { 'nats-server': 'nats-server', 'redis-server': 'redis-server' };

/**
 * Makes sure the server binaries exist. On Debian as root, missing ones are installed with apt-get; elsewhere
 * this throws an error that names exactly what to install.
 */
export function ensureServerBinaries(names: string[] = ['nats-server', 'redis-server']): void {
  const missing = names.filter((name) => !findBinary(name));
  if (missing.length === 0) return;
  const packages = missing.map((name) => PACKAGES[name] ?? name);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && existsSync('/etc/debian_version') && findBinary('apt-get')) {
    process.stderr.write(`troupe: installing ${packages.join(', ')} from Debian's packages...\n`);
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', ...packages], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    const still = names.filter((name) => !findBinary(name));
    if (still.length === 0) return;
    throw new Error(`troupe: ${still.join(', ')} still missing after apt-get install`);
  }
  throw new Error(
    `troupe: the tests need ${missing.join(' and ')} on PATH. Install them: on Debian/Ubuntu ` +
      `\`sudo apt-get install ${packages.join(' ')}\`; on macOS \`brew install ${packages
        .map((p) => (p === 'redis-server' ? 'redis' : p))
        .join(' ')}\`; or see https://nats.io and https://redis.io for binaries.`,
  );
}
