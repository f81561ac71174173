// Allow and block lists of IP addresses and CIDR blocks, IPv4 and IPv6, on node's BlockList.
import { BlockList, isIP } from 'node:net';

export class IpList {
  private readonly list = new BlockList();
  readonly size: number;

  /** Entries are validated by the config schema (isCidr); a bad one here is a programming error. */
  constructor(readonly entries: readonly string[]) {
    for (const entry of entries) {
      const [addr, bits] = entry.split('/');
      const family = isIP(addr ?? '');
      if (family === 0) throw new Error(`not an IP address or CIDR block: ${entry}`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (bits === undefined) this.list.addAddress(addr!, type);
      else this.list.addSubnet(addr!, Number(bits), type);
    }
    this.size = entries.length;
  }

  has(ip: string): boolean {
    if (this.size === 0) return false;
    const family = isIP(ip);
    return family !== 0 && this.list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** "192.0.2.1", "10.0.0.0/8", "2001:db8::/32". */
export function isCidr(text: string): boolean {
  const [addr, bits, extra] = text.split('/');
  if (extra !== undefined) return false;
  const family = isIP(addr ?? '');
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}
