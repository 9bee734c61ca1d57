// Loopback detection for the safe defaults: anonymous clients and the admin API are accepted
// from this machine only unless configured otherwise.
export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address === 'localhost' || address.startsWith('::ffff:127.');
}
