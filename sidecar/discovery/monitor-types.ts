// PodMonitor / ServiceMonitor (monitoring.coreos.com/v1) as the API returns them (camelCase),
// limited to the fields the sidecar turns into scrape configs.
import type { LabelSelector, ServiceDiscoveryRole } from '../../contract/prometheus-cr.js';

export interface SecretKeySelector {
  name: string;
  key: string;
  optional?: boolean;
}

export interface SecretOrConfigMap {
  secret?: SecretKeySelector;
  configMap?: SecretKeySelector;
}

export interface SafeTLSConfig {
  ca?: SecretOrConfigMap;
  cert?: SecretOrConfigMap;
  keySecret?: SecretKeySelector;
  serverName?: string;
  insecureSkipVerify?: boolean;
  minVersion?: string;
  maxVersion?: string;
}

export interface TLSConfig extends SafeTLSConfig {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

export interface RelabelConfigCR {
  sourceLabels?: string[];
  separator?: string;
  targetLabel?: string;
  regex?: string;
  modulus?: number;
  replacement?: string;
  action?: string;
}

export interface OAuth2CR {
  clientId?: SecretOrConfigMap;
  clientSecret?: SecretKeySelector;
  tokenUrl?: string;
  scopes?: string[];
  endpointParams?: Record<string, string>;
}

/** Fields shared by PodMetricsEndpoint and the ServiceMonitor Endpoint. */
export interface EndpointCommon {
  port?: string;
  targetPort?: string | number;
  interval?: string;
  scrapeTimeout?: string;
  path?: string;
  params?: Record<string, string[]>;
  scheme?: string;
  honorLabels?: boolean;
  honorTimestamps?: boolean;
  trackTimestampsStaleness?: boolean;
  filterRunning?: boolean;
  followRedirects?: boolean;
  enableHttp2?: boolean;
  proxyUrl?: string;
  relabelings?: RelabelConfigCR[];
  metricRelabelings?: RelabelConfigCR[];
  tlsConfig?: TLSConfig;
  basicAuth?: { username?: SecretKeySelector; password?: SecretKeySelector };
  authorization?: { type?: string; credentials?: SecretKeySelector; credentialsFile?: string };
  bearerTokenSecret?: SecretKeySelector;
  oauth2?: OAuth2CR;
}

export interface PodMetricsEndpoint extends EndpointCommon {
  portNumber?: number;
}

export interface ServiceMonitorEndpoint extends EndpointCommon {
  bearerTokenFile?: string;
}

export interface NamespaceSelectorCR {
  any?: boolean;
  matchNames?: string[];
}

export interface MonitorSpecCommon {
  selector?: LabelSelector;
  selectorMechanism?: 'RelabelSelector' | 'RoleSelector';
  namespaceSelector?: NamespaceSelectorCR;
  jobLabel?: string;
  podTargetLabels?: string[];
  sampleLimit?: number;
  targetLimit?: number;
  labelLimit?: number;
  labelNameLengthLimit?: number;
  labelValueLengthLimit?: number;
  keepDroppedTargets?: number;
  bodySizeLimit?: string;
  scrapeProtocols?: string[];
  attachMetadata?: { node?: boolean };
  /** A prometheusCR.scrapeClasses entry by name (else the default class). */
  scrapeClass?: string;
}

export interface MonitorMeta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
}

export interface PodMonitor {
  apiVersion?: string;
  kind?: 'PodMonitor';
  metadata?: MonitorMeta;
  spec?: MonitorSpecCommon & { podMetricsEndpoints?: PodMetricsEndpoint[] };
}

export interface ServiceMonitor {
  apiVersion?: string;
  kind?: 'ServiceMonitor';
  metadata?: MonitorMeta;
  spec?: MonitorSpecCommon & { endpoints?: ServiceMonitorEndpoint[]; targetLabels?: string[]; serviceDiscoveryRole?: ServiceDiscoveryRole };
}

/** ScrapeConfig (monitoring.coreos.com/v1alpha1): the fields edot-ta converts; others are listed as unsupported. */
export interface ScrapeConfigCR {
  apiVersion?: string;
  kind?: 'ScrapeConfig';
  metadata?: MonitorMeta;
  spec?: {
    jobName?: string;
    scrapeClass?: string;
    staticConfigs?: Array<{ targets?: string[]; labels?: Record<string, string> }>;
    fileSDConfigs?: Array<{ files?: string[]; refreshInterval?: string }>;
    httpSDConfigs?: Array<Pick<EndpointCommon, 'basicAuth' | 'authorization' | 'tlsConfig' | 'followRedirects' | 'proxyUrl'> & { url?: string; refreshInterval?: string; enableHTTP2?: boolean }>;
    kubernetesSDConfigs?: Array<{
      role?: string;
      apiServer?: string;
      namespaces?: { ownNamespace?: boolean; names?: string[] };
      selectors?: Array<{ role?: string; label?: string; field?: string }>;
      attachMetadata?: { node?: boolean };
    }>;
    dnsSDConfigs?: Array<{ names?: string[]; refreshInterval?: string; type?: string; port?: number }>;
    relabelings?: RelabelConfigCR[];
    metricRelabelings?: RelabelConfigCR[];
    metricsPath?: string;
    params?: Record<string, string[]>;
    scrapeInterval?: string;
    scrapeTimeout?: string;
    scrapeProtocols?: string[];
    scheme?: string;
    honorLabels?: boolean;
    honorTimestamps?: boolean;
    trackTimestampsStaleness?: boolean;
    enableCompression?: boolean;
    enableHTTP2?: boolean;
    proxyUrl?: string;
    tlsConfig?: SafeTLSConfig;
    basicAuth?: EndpointCommon['basicAuth'];
    authorization?: EndpointCommon['authorization'];
    oauth2?: OAuth2CR;
  } & Pick<MonitorSpecCommon, 'sampleLimit' | 'targetLimit' | 'labelLimit' | 'labelNameLengthLimit' | 'labelValueLengthLimit' | 'keepDroppedTargets' | 'bodySizeLimit'> &
    Record<string, unknown>;
}

/** Probe (monitoring.coreos.com/v1): a prober (e.g. blackbox_exporter) asked about static targets or Ingresses. */
export interface ProbeCR {
  apiVersion?: string;
  kind?: 'Probe';
  metadata?: MonitorMeta;
  spec?: Pick<EndpointCommon, 'tlsConfig' | 'basicAuth' | 'authorization' | 'bearerTokenSecret' | 'oauth2' | 'metricRelabelings' | 'followRedirects' | 'enableHttp2'> &
    Pick<MonitorSpecCommon, 'sampleLimit' | 'targetLimit' | 'labelLimit' | 'labelNameLengthLimit' | 'labelValueLengthLimit' | 'keepDroppedTargets' | 'scrapeProtocols'> & {
      jobName?: string;
      scrapeClass?: string;
      prober?: { url?: string; scheme?: string; path?: string; proxyUrl?: string };
      module?: string;
      params?: Array<{ name?: string; values?: string[] }>;
      interval?: string;
      scrapeTimeout?: string;
      targets?: {
        staticConfig?: { static?: string[]; labels?: Record<string, string>; relabelingConfigs?: RelabelConfigCR[] };
        ingress?: { selector?: LabelSelector; namespaceSelector?: NamespaceSelectorCR; relabelingConfigs?: RelabelConfigCR[] };
      };
    };
}
