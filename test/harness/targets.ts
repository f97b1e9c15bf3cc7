// Small HTTP scrape targets for tests and the demo: a stand-in for Envoy's /stats/prometheus
// (or any exporter) on its own loopback address, as a pod IP would be.
import { createServer, type Server } from 'node:http';
import { networkInterfaces } from 'node:os';

/** Serves `body` as Prometheus text on http://ip:port{path} (404 elsewhere). */
export async function serveMetrics(ip: string, port: number, path: string, body: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url?.split('?')[0] !== path) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(body);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, ip, resolve));
  return server;
}

/** Envoy's stats endpoint on ip:15090, labelled with the ip so scrapes can be told apart. */
export function serveEnvoyStats(ip: string): Promise<Server> {
  return serveMetrics(ip, 15090, '/stats/prometheus', `envoy_server_live{ip="${ip}"} 1\n`);
}

/**
 * This machine's first non-loopback IPv4 address. Current API servers refuse loopback
 * addresses in Endpoints (and EndpointSlices), so targets reached through a Service listen here.
 */
export function hostAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === 'IPv4' && !address.internal) return address.address;
  }
  throw new Error('this machine has no non-loopback IPv4 address for Service endpoints');
}
