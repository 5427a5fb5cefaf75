/** Who runs a command here (`user@host`): named in erasure records and maintenance leases. */
import { hostname, userInfo } from 'node:os';

export function localIdentity(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): the host still says where
  }
  return `${user}@${hostname()}`;
}
