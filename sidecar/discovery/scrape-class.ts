// prometheus-operator scrape classes (prometheusCR.scrapeClasses, as the Target Allocator takes
// them): common settings a monitor picks by `spec.scrapeClass`, or the class marked `default`.
// As the operator merges them: the class's relabelings run after the generated rules and before
// the monitor's own, its metric relabelings before the monitor's; the monitor's TLS and
// authorization win, the class filling only what the monitor leaves out; attachMetadata from the
// monitor, else the class.
import type { ScrapeClassSettings } from '../../contract/prometheus-cr.js';
import type { EndpointCommon, RelabelConfigCR, TLSConfig } from './monitor-types.js';

export interface ScrapeClass {
  name?: string;
  relabelings?: RelabelConfigCR[];
  metricRelabelings?: RelabelConfigCR[];
  tlsConfig?: TLSConfig;
  authorization?: EndpointCommon['authorization'];
  attachMetadata?: { node?: boolean };
}

/** The class a monitor uses: the one it names (an unknown name rejects the monitor, as the operator does), else the default, else none. */
export function scrapeClassFor(classes: readonly ScrapeClassSettings[] | undefined, name: string | undefined): ScrapeClass {
  if (name) {
    const named = classes?.find((c) => c.name === name);
    if (!named) throw new Error(`scrapeClass "${name}" not found in prometheusCR.scrapeClasses`);
    return named as ScrapeClass;
  }
  return (classes?.find((c) => c.default === true) as ScrapeClass | undefined) ?? {};
}

const isEmpty = (value: object | undefined) => !value || Object.values(value).every((v) => v === undefined || v === null || v === '');

/** The endpoint's HTTP settings and metric relabelings with the class merged in. */
export function withScrapeClass<T extends Pick<EndpointCommon, 'tlsConfig' | 'authorization' | 'metricRelabelings'>>(ep: T, cls: ScrapeClass): T {
  const merged: T = { ...ep };
  if (cls.tlsConfig) {
    if (isEmpty(ep.tlsConfig)) merged.tlsConfig = cls.tlsConfig;
    else {
      const tls: TLSConfig = { ...ep.tlsConfig };
      if (!tls.caFile && isEmpty(tls.ca) && cls.tlsConfig.caFile) tls.caFile = cls.tlsConfig.caFile;
      if (!tls.certFile && isEmpty(tls.cert) && cls.tlsConfig.certFile) tls.certFile = cls.tlsConfig.certFile;
      if (!tls.keyFile && !tls.keySecret && cls.tlsConfig.keyFile) tls.keyFile = cls.tlsConfig.keyFile;
      merged.tlsConfig = tls;
    }
  }
  if (cls.authorization) {
    if (isEmpty(ep.authorization)) merged.authorization = cls.authorization;
    else if (!ep.authorization?.credentials) {
      merged.authorization = { ...ep.authorization, ...(cls.authorization.credentials ? { credentials: cls.authorization.credentials } : {}) };
      if (!ep.authorization?.credentialsFile && !cls.authorization.credentials && cls.authorization.credentialsFile) merged.authorization.credentialsFile = cls.authorization.credentialsFile;
    }
  }
  if (cls.metricRelabelings?.length) merged.metricRelabelings = [...cls.metricRelabelings, ...(ep.metricRelabelings ?? [])];
  return merged;
}
