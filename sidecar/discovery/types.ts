// Shared discovery types: label sets, target groups (Prometheus's targetgroup.Group) and the
// snake_case scrape config shape the prometheus-operator generates and the receiver consumes.

/** A label set: name → value. Never mutated once built (copy before changing). */
export type Labels = Record<string, string>;

/**
 * One discovered group, as Prometheus's kubernetes_sd emits it: `labels` are shared by every
 * target of the group, `targets` carry `__address__` and per-target meta labels.
 */
export interface TargetGroup {
  /** Prometheus's group source, e.g. `pod/<ns>/<name>` or `endpoints/<ns>/<name>`. */
  source: string;
  targets: Labels[];
  labels: Labels;
  /**
   * Node of the pod behind each target (same index as `targets`), when known: used by sharding
   * for node-local assignment. Not a label: the receiver must see exactly Prometheus's labels.
   */
  nodeNames?: Array<string | undefined>;
}

/** A relabel config as written in YAML (snake_case). */
export interface RelabelConfigYaml {
  source_labels?: string[];
  separator?: string;
  target_label?: string;
  regex?: string;
  modulus?: number;
  replacement?: string;
  action?: string;
}

export interface KubernetesSdConfigYaml {
  role: 'pod' | 'service' | 'endpoints' | 'endpointslice' | 'node' | 'ingress';
  namespaces?: { own_namespace?: boolean; names?: string[] };
  selectors?: Array<{ role: string; label?: string; field?: string }>;
  attach_metadata?: { node?: boolean };
}

export interface TlsConfigYaml {
  ca?: string;
  ca_file?: string;
  cert?: string;
  cert_file?: string;
  key?: string;
  key_file?: string;
  server_name?: string;
  insecure_skip_verify?: boolean;
  min_version?: string;
  max_version?: string;
}

export interface BasicAuthYaml {
  username?: string;
  password?: string;
  password_file?: string;
}

export interface AuthorizationYaml {
  type?: string;
  credentials?: string;
  credentials_file?: string;
}

/** A Prometheus scrape config in snake_case, durations as strings ("30s"). */
export interface ScrapeConfigYaml {
  job_name: string;
  honor_labels?: boolean;
  honor_timestamps?: boolean;
  track_timestamps_staleness?: boolean;
  scrape_interval?: string;
  scrape_timeout?: string;
  metrics_path?: string;
  scheme?: string;
  params?: Record<string, string[]>;
  follow_redirects?: boolean;
  enable_http2?: boolean;
  proxy_url?: string;
  tls_config?: TlsConfigYaml;
  basic_auth?: BasicAuthYaml;
  authorization?: AuthorizationYaml;
  bearer_token?: string;
  bearer_token_file?: string;
  oauth2?: Record<string, unknown>;
  kubernetes_sd_configs?: KubernetesSdConfigYaml[];
  static_configs?: Array<{ targets: string[]; labels?: Labels }>;
  relabel_configs?: RelabelConfigYaml[];
  metric_relabel_configs?: RelabelConfigYaml[];
  sample_limit?: number;
  target_limit?: number;
  label_limit?: number;
  label_name_length_limit?: number;
  label_value_length_limit?: number;
  body_size_limit?: string;
  keep_dropped_targets?: number;
  scrape_protocols?: string[];
  enable_compression?: boolean;
}
