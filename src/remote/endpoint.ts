/** `host:port` and `[v6]:port` as given on the command line. */

export interface Endpoint {
  host: string;
  port: number;
}

/** How a worker is named in messages: `host:port`. */
export function formatEndpoint({ host, port }: Endpoint): string {
  return `${host}:${port}`;
}

export function parseEndpoint(text: string): Endpoint | { error: string } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port < 0 || port > 65535) return { error: `'${text}' is not HOST:PORT` };
  return { host: match[1] ?? match[2]!, port };
}

/** Loopback addresses, where a worker may run without a token. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
