// The safety check every target runs in open(): load goes to loopback, or to a host the test lists explicitly.

import { LoadError, LoadErrorCode } from '../errors.js';

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function isLoopbackIpv4(host: string): boolean {
  const m = IPV4.exec(host);
  if (m === null) return false;
  const octets = m.slice(1).map(Number);
  return octets[0] === 127 && octets.every((o) => o <= 255);
}

/** `::1` in the forms the WHATWG URL parser leaves (it compresses zeros), and IPv4-mapped 127.x (`::ffff:7f..`). */
function isLoopbackIpv6(host: string): boolean {
  if (host === '::1') return true;
  const mapped = /^::ffff:([0-9a-f]{1,4}):[0-9a-f]{1,4}$/.exec(host);
  return mapped?.[1] !== undefined && mapped[1].length === 4 && mapped[1].startsWith('7f');
}

/**
 * The host name of a URL (`http://h:1/x`, `nats://h:4222`), a `host:port` or a bare host, lower-cased, IPv6
 * without brackets, IPv4 in the dotted form the URL parser gives (so `127.1` or `0x7f.0.0.1` read as
 * 127.0.0.1, as the client that connects would read them). Undefined when it does not parse.
 */
export function hostOf(target: string): string | undefined {
  const trimmed = target.trim();
  if (trimmed === '') return undefined;
  let authority = trimmed;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(trimmed);
  if (scheme !== null) {
    // Only the authority counts: a special scheme's path or a user-info part may hold anything.
    try {
      authority = new URL(trimmed).host;
    } catch {
      return undefined;
    }
    if (authority === '') return undefined;
  } else if (!trimmed.startsWith('[') && (trimmed.match(/:/g)?.length ?? 0) > 1) {
    authority = `[${trimmed}]`; // a bare IPv6 address such as ::1
  }
  try {
    // Parsed as http so IPv4 shorthand and IPv6 are normalised the way connecting clients see them.
    const url = new URL(`http://${authority}/`);
    if (url.username !== '' || url.password !== '' || url.pathname !== '/') return undefined;
    const host = url.hostname.toLowerCase();
    return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  } catch {
    return undefined;
  }
}

/** True for 127.0.0.0/8, ::1 (and IPv4-mapped 127.x) and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || isLoopbackIpv4(host) || isLoopbackIpv6(host);
}

/**
 * Throws `LOAD_TARGET_NOT_ALLOWED` unless `target` (a URL, `host:port` or host) aims at loopback or at a host
 * listed exactly in `allowHosts` (by host name, or by `host:port`; wildcards never match).
 *
 * @example
 * assertAllowedHost('http://127.0.0.1:8080', []); // fine
 * assertAllowedHost('https://api.example.com', ['api.example.com']); // fine: listed
 */
export function assertAllowedHost(target: string, allowHosts: readonly string[]): void {
  const host = hostOf(target);
  if (host === undefined)
    throw new LoadError(LoadErrorCode.TargetNotAllowed, `cannot tell the host of target ${target}`);
  if (isLoopbackHost(host)) return;
  const hostPort = hostPortOf(target);
  for (const allowed of allowHosts) {
    if (allowed.includes('*')) continue;
    const entry = allowed.trim().toLowerCase();
    const bare = entry.startsWith('[') && entry.endsWith(']') ? entry.slice(1, -1) : entry;
    if (bare === host || (hostPort !== undefined && entry === hostPort)) return;
  }
  throw new LoadError(
    LoadErrorCode.TargetNotAllowed,
    `target ${host} is not loopback and not in the test's allowHosts; load tests aim at loopback unless a host is listed explicitly`,
    { data: { host } },
  );
}

/** `host:port` of a target that names a port, lower-cased, for allowHosts entries written with their port. */
function hostPortOf(target: string): string | undefined {
  const trimmed = target.trim();
  try {
    const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`);
    return url.port === '' ? undefined : `${url.hostname.toLowerCase()}:${url.port}`;
  } catch {
    return undefined;
  }
}
