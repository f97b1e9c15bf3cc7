// The HTTP client part of a monitor endpoint (TLS, basic auth, authorization, OAuth2, proxy) as
// scrape-config fields, with Secret and ConfigMap values resolved through the caller's lookup.
// The sidecar serves these values over loopback only; they must never be logged.
import type { ScrapeConfigYaml, TlsConfigYaml } from './types.js';
import type { EndpointCommon, SecretKeySelector, SecretOrConfigMap, TLSConfig } from './monitor-types.js';

/** Values from Secrets / ConfigMaps in the monitor's namespace; undefined when absent. */
export interface ObjectValueLookup {
  secret(namespace: string, name: string, key: string): string | undefined;
  configMap?(namespace: string, name: string, key: string): string | undefined;
}

export class MissingReferenceError extends Error {}

function secretValue(lookup: ObjectValueLookup, namespace: string, ref: SecretKeySelector, field: string): string | undefined {
  const value = lookup.secret(namespace, ref.name, ref.key);
  if (value === undefined && !ref.optional) throw new MissingReferenceError(`${field}: key "${ref.key}" of Secret ${namespace}/${ref.name} not found`);
  return value;
}

function secretOrConfigMapValue(lookup: ObjectValueLookup, namespace: string, ref: SecretOrConfigMap, field: string): string | undefined {
  if (ref.secret) return secretValue(lookup, namespace, ref.secret, field);
  if (ref.configMap) {
    const value = lookup.configMap?.(namespace, ref.configMap.name, ref.configMap.key);
    if (value === undefined && !ref.configMap.optional) throw new MissingReferenceError(`${field}: key "${ref.configMap.key}" of ConfigMap ${namespace}/${ref.configMap.name} not found`);
    return value;
  }
  return undefined;
}

/** tls_config with inline ca/cert/key (as the TA generates with inline TLS), file paths kept as given. */
function tlsConfig(lookup: ObjectValueLookup, namespace: string, tls: TLSConfig): TlsConfigYaml {
  const out: TlsConfigYaml = {};
  if (tls.insecureSkipVerify !== undefined) out.insecure_skip_verify = tls.insecureSkipVerify;
  const ca = tls.ca && secretOrConfigMapValue(lookup, namespace, tls.ca, 'tlsConfig.ca');
  if (ca !== undefined) out.ca = ca;
  const cert = tls.cert && secretOrConfigMapValue(lookup, namespace, tls.cert, 'tlsConfig.cert');
  if (cert !== undefined) out.cert = cert;
  const key = tls.keySecret && secretValue(lookup, namespace, tls.keySecret, 'tlsConfig.keySecret');
  if (key !== undefined) out.key = key;
  if (tls.serverName) out.server_name = tls.serverName;
  if (tls.minVersion) out.min_version = tls.minVersion;
  if (tls.maxVersion) out.max_version = tls.maxVersion;
  if (tls.caFile) out.ca_file = tls.caFile;
  if (tls.certFile) out.cert_file = tls.certFile;
  if (tls.keyFile) out.key_file = tls.keyFile;
  return out;
}

/** Adds the endpoint's HTTP client fields to `config`, in the operator's order. */
export function addHttpClientFields(config: ScrapeConfigYaml, lookup: ObjectValueLookup, namespace: string, ep: EndpointCommon & { bearerTokenFile?: string }): void {
  if (ep.followRedirects !== undefined) config.follow_redirects = ep.followRedirects;
  if (ep.enableHttp2 !== undefined) config.enable_http2 = ep.enableHttp2;
  if (ep.tlsConfig) config.tls_config = tlsConfig(lookup, namespace, ep.tlsConfig);
  if (ep.bearerTokenFile) config.bearer_token_file = ep.bearerTokenFile;
  if (ep.bearerTokenSecret?.name) {
    const token = secretValue(lookup, namespace, ep.bearerTokenSecret, 'bearerTokenSecret');
    if (token !== undefined) config.bearer_token = token;
  }
  if (ep.basicAuth) {
    const username = ep.basicAuth.username ? secretValue(lookup, namespace, ep.basicAuth.username, 'basicAuth.username') : undefined;
    const password = ep.basicAuth.password ? secretValue(lookup, namespace, ep.basicAuth.password, 'basicAuth.password') : undefined;
    config.basic_auth = { username: username ?? '', password: password ?? '' };
  }
  if (ep.oauth2) {
    const oauth2: Record<string, unknown> = {};
    const clientId = ep.oauth2.clientId && secretOrConfigMapValue(lookup, namespace, ep.oauth2.clientId, 'oauth2.clientId');
    if (clientId !== undefined) oauth2.client_id = clientId;
    const clientSecret = ep.oauth2.clientSecret && secretValue(lookup, namespace, ep.oauth2.clientSecret, 'oauth2.clientSecret');
    if (clientSecret !== undefined) oauth2.client_secret = clientSecret;
    if (ep.oauth2.tokenUrl) oauth2.token_url = ep.oauth2.tokenUrl;
    if (ep.oauth2.scopes?.length) oauth2.scopes = ep.oauth2.scopes;
    if (ep.oauth2.endpointParams) oauth2.endpoint_params = ep.oauth2.endpointParams;
    config.oauth2 = oauth2;
  }
  if (ep.proxyUrl) config.proxy_url = ep.proxyUrl;
  if (ep.authorization) {
    const authorization: { type: string; credentials?: string; credentials_file?: string } = { type: (ep.authorization.type || 'Bearer').trim() };
    const credentials = ep.authorization.credentials && secretValue(lookup, namespace, ep.authorization.credentials, 'authorization.credentials');
    if (credentials !== undefined) authorization.credentials = credentials;
    if (ep.authorization.credentialsFile) authorization.credentials_file = ep.authorization.credentialsFile;
    config.authorization = authorization;
  }
}
