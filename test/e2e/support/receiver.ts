// Builds the Prometheus config that the collector's prometheus receiver builds for itself from a
// target allocator: every job from GET /scrape_configs, each with one http_sd_config pointing at
// /jobs/<QueryEscape(job)>/targets?collector_id=<id> (the receiver replaces the job's own service
// discovery with it). Used by e2e tests to stand a real Prometheus in for the collector.
import { queryEscape } from '../../../sidecar/serve/api.js';

export interface ReceiverOptions {
  /** http://127.0.0.1:<port> of the sidecar. */
  endpoint: string;
  collectorId: string;
  /** http_sd refresh interval (the receiver's `http_sd_config.refresh_interval`). */
  refreshInterval?: string;
  /** global scrape settings of the stand-in Prometheus. */
  scrapeInterval?: string;
}

const serviceDiscoveryKeys = /(^static_configs$|_sd_configs$)/;

/** The prometheus.yml (as an object) for the scrape configs a sidecar served. */
export function receiverPrometheusConfig(scrapeConfigs: Record<string, Record<string, unknown>>, options: ReceiverOptions): object {
  const jobs = Object.entries(scrapeConfigs).map(([job, config]) => {
    const kept = Object.fromEntries(Object.entries(config).filter(([key]) => !serviceDiscoveryKeys.test(key)));
    return {
      ...kept,
      job_name: job,
      http_sd_configs: [
        {
          url: `${options.endpoint}/jobs/${queryEscape(job)}/targets?collector_id=${encodeURIComponent(options.collectorId)}`,
          refresh_interval: options.refreshInterval ?? '1s',
        },
      ],
    };
  });
  return {
    global: { scrape_interval: options.scrapeInterval ?? '1s', scrape_timeout: '1s' },
    scrape_configs: jobs,
  };
}

/** Fetches /scrape_configs from the sidecar and builds the receiver's Prometheus config from it. */
export async function fetchReceiverConfig(options: ReceiverOptions): Promise<object> {
  const res = await fetch(`${options.endpoint}/scrape_configs`);
  if (!res.ok) throw new Error(`GET /scrape_configs: ${res.status} ${await res.text()}`);
  return receiverPrometheusConfig((await res.json()) as Record<string, Record<string, unknown>>, options);
}
