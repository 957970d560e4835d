//! Validation of the security sections: `[server.tls]`, `[auth]`, `[authorization]` and
//! upstream credentials.

use std::time::Duration;

use crate::error::{ConfigError, KeyPath};
use crate::model::Config;
use crate::raw_security::{
    RawApiKey, RawAuth, RawAuthorization, RawClientAuth, RawCredential, RawJwt, RawMtls,
    RawPrincipal, RawTls, RawTokens,
};
use crate::security::{
    ApiKeyConfig, AuthConfig, AuthorizationConfig, CertIdentityConfig, ClientAuth,
    CredentialConfig, CredentialTarget, JwksSource, JwtConfig, MtlsConfig, PrincipalConfig,
    PrincipalKindConfig, SecretRef, TlsConfig, TokensConfig, local_user,
};
use crate::validate::{Checker, MANAGED_HEADERS, is_token};

/// Algorithms a JWT may be signed with. HMAC (`HS*`) is refused: a shared secret cannot be
/// published in a key set, and accepting it invites RSA/HMAC confusion.
const JWT_ALGORITHMS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];
const DEFAULT_JWT_ALGORITHMS: &[&str] = &["RS256", "ES256", "EdDSA"];
const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
const MAX_LEEWAY: Duration = Duration::from_secs(300);
const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
const MAX_TOKEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);
const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(2);
/// Headers that carry the client's own credentials; a configured upstream credential may use
/// them (that is its purpose), but static `headers` may not duplicate the credential header.
const API_KEY_HASH_PREFIX: &str = "sha256$";

impl Checker<'_> {
    pub(crate) fn tls(&self, raw: RawTls) -> Result<TlsConfig, ConfigError> {
        let key = KeyPath::root("server").child("tls");
        let cert = raw.cert.ok_or_else(|| {
            self.error(&key.child("cert"), "is required: a PEM certificate chain")
        })?;
        let private = raw
            .key
            .ok_or_else(|| self.error(&key.child("key"), "is required: a PEM private key"))?;
        let client_ca = match raw.client_ca {
            Some(ca) => Some(self.path(&key.child("client_ca"), &ca)?),
            None => None,
        };
        if raw.client_auth.is_some() && client_ca.is_none() {
            return Err(self.error(
                &key.child("client_auth"),
                "needs `client_ca`, the authorities client certificates must chain to",
            ));
        }
        Ok(TlsConfig {
            cert: self.path(&key.child("cert"), &cert)?,
            key: self.path(&key.child("key"), &private)?,
            client_ca,
            client_auth: match raw.client_auth {
                None | Some(RawClientAuth::Required) => ClientAuth::Required,
                Some(RawClientAuth::Optional) => ClientAuth::Optional,
            },
        })
    }

    pub(crate) fn auth(&self, raw: RawAuth) -> Result<AuthConfig, ConfigError> {
        let key = KeyPath::root("auth");
        let resource = match &raw.resource {
            Some(text) => Some(self.https_url(&key.child("resource"), text, true)?),
            None => None,
        };
        let mut api_keys = Vec::new();
        for (index, entry) in raw.api_keys.into_iter().flatten().enumerate() {
            api_keys.push(self.api_key(&key.child("api_keys").index(index), entry)?);
        }
        let mut jwt = Vec::new();
        for (index, entry) in raw.jwt.into_iter().flatten().enumerate() {
            let entry_key = key.child("jwt").index(index);
            let issuer = self.jwt(&entry_key, entry, resource.as_ref())?;
            if jwt.iter().any(|j: &JwtConfig| j.issuer == issuer.issuer) {
                return Err(self.error(
                    &entry_key.child("issuer"),
                    format!("`{}` is configured twice", issuer.issuer),
                ));
            }
            jwt.push(issuer);
        }
        let mtls = match raw.mtls {
            Some(m) => Some(self.mtls(&key.child("mtls"), m)?),
            None => None,
        };
        let stdio = self.principal(&key.child("stdio"), raw.stdio.unwrap_or_default())?;
        let tokens = match raw.tokens {
            Some(t) => Some(self.tokens(&key.child("tokens"), t, resource.as_ref())?),
            None => None,
        };
        let authorization_servers = match raw.authorization_servers {
            Some(servers) => {
                for (index, server) in servers.iter().enumerate() {
                    self.https_url(
                        &key.child("authorization_servers").index(index),
                        server,
                        true,
                    )?;
                }
                servers
            }
            None => jwt.iter().map(|j| j.issuer.clone()).collect(),
        };
        let scopes = |name: &str, list: Option<Vec<String>>| -> Result<Vec<String>, ConfigError> {
            let list = list.unwrap_or_default();
            for (index, scope) in list.iter().enumerate() {
                if scope.is_empty()
                    || !scope
                        .bytes()
                        .all(|b| (b'!'..=b'~').contains(&b) && b != b'"' && b != b'\\')
                {
                    return Err(self.error(
                        &key.child(name).index(index),
                        format!("`{scope}` is not a valid OAuth scope (visible ASCII, no spaces, quotes or backslashes)"),
                    ));
                }
            }
            Ok(list)
        };
        let required_scopes = scopes("required_scopes", raw.required_scopes)?;
        let scopes_supported = scopes("scopes_supported", raw.scopes_supported)?;
        if api_keys.is_empty() && jwt.is_empty() && mtls.is_none() {
            return Err(self.error(
                &key,
                "configures no way to authenticate: add `[[auth.api_keys]]`, `[[auth.jwt]]` \
                 or `[auth.mtls]`",
            ));
        }
        if !required_scopes.is_empty() && jwt.is_empty() {
            return Err(self.error(
                &key.child("required_scopes"),
                "only applies to JWTs: configure `[[auth.jwt]]` too",
            ));
        }
        Ok(AuthConfig {
            resource,
            authorization_servers,
            scopes_supported,
            required_scopes,
            api_keys,
            jwt,
            mtls,
            stdio,
            tokens,
        })
    }

    /// An `https` URL (or `http` on a loopback host, for development).
    fn https_url(
        &self,
        key: &KeyPath,
        text: &str,
        allow_loopback_http: bool,
    ) -> Result<url::Url, ConfigError> {
        let url = url::Url::parse(text.trim())
            .map_err(|error| self.error(key, format!("`{text}` is not a URL: {error}")))?;
        let loopback = matches!(url.host(), Some(url::Host::Domain("localhost")))
            || matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
            || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
        match url.scheme() {
            "https" => {}
            "http" if allow_loopback_http && loopback => {}
            _ => {
                return Err(self.error(
                    key,
                    format!("`{text}` must use `https` (`http` only on a loopback host)"),
                ));
            }
        }
        if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
            return Err(self.error(key, "must not contain credentials or a fragment"));
        }
        Ok(url)
    }

    fn kind(
        &self,
        key: &KeyPath,
        text: Option<&str>,
        default: PrincipalKindConfig,
    ) -> Result<PrincipalKindConfig, ConfigError> {
        match text {
            None => Ok(default),
            Some(text) => PrincipalKindConfig::parse(text).ok_or_else(|| {
                self.error(
                    key,
                    format!("`{text}` is not a principal kind: use `user`, `service` or `agent`"),
                )
            }),
        }
    }

    fn principal_id(&self, key: &KeyPath, id: &str) -> Result<(), ConfigError> {
        if id.is_empty() || id.len() > 256 || id.chars().any(char::is_control) {
            return Err(self.error(
                key,
                "must be 1 to 256 characters without control characters",
            ));
        }
        Ok(())
    }

    fn groups(
        &self,
        key: &KeyPath,
        groups: Option<Vec<String>>,
    ) -> Result<Vec<String>, ConfigError> {
        let groups = groups.unwrap_or_default();
        for (index, group) in groups.iter().enumerate() {
            self.principal_id(&key.index(index), group)?;
        }
        Ok(groups)
    }

    fn principal(&self, key: &KeyPath, raw: RawPrincipal) -> Result<PrincipalConfig, ConfigError> {
        let id = raw.principal.unwrap_or_else(local_user);
        self.principal_id(&key.child("principal"), &id)?;
        Ok(PrincipalConfig {
            id,
            kind: self.kind(
                &key.child("kind"),
                raw.kind.as_deref(),
                PrincipalKindConfig::User,
            )?,
            groups: self.groups(&key.child("groups"), raw.groups)?,
            attributes: raw.attributes.unwrap_or_default().into_iter().collect(),
        })
    }

    fn api_key(&self, key: &KeyPath, raw: RawApiKey) -> Result<ApiKeyConfig, ConfigError> {
        let id = raw.principal.ok_or_else(|| {
            self.error(
                &key.child("principal"),
                "is required: the principal id the key authenticates",
            )
        })?;
        self.principal_id(&key.child("principal"), &id)?;
        let hash = raw.hash.ok_or_else(|| {
            self.error(
                &key.child("hash"),
                "is required: the output of `mcpgate keys hash`",
            )
        })?;
        let parts: Vec<&str> = hash.split('$').collect();
        let well_formed = hash.starts_with(API_KEY_HASH_PREFIX)
            && parts.len() == 3
            && parts[1..].iter().all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !well_formed {
            // The value is not echoed: it may be a key pasted in clear by mistake.
            return Err(self.error(
                &key.child("hash"),
                "is not a key hash: store the output of `mcpgate keys hash`, never the key itself",
            ));
        }
        Ok(ApiKeyConfig {
            hash,
            principal: PrincipalConfig {
                id,
                kind: self.kind(
                    &key.child("kind"),
                    raw.kind.as_deref(),
                    PrincipalKindConfig::User,
                )?,
                groups: self.groups(&key.child("groups"), raw.groups)?,
                attributes: raw.attributes.unwrap_or_default().into_iter().collect(),
            },
        })
    }

    fn jwt(
        &self,
        key: &KeyPath,
        raw: RawJwt,
        resource: Option<&url::Url>,
    ) -> Result<JwtConfig, ConfigError> {
        let issuer = raw.issuer.filter(|i| !i.trim().is_empty()).ok_or_else(|| {
            self.error(&key.child("issuer"), "is required: the `iss` tokens carry")
        })?;
        let audience = match (raw.audience, resource) {
            (Some(audience), _) if !audience.trim().is_empty() => audience,
            (_, Some(resource)) => resource.to_string(),
            _ => {
                return Err(self.error(
                    &key.child("audience"),
                    "is needed: set `auth.resource` (the gateway's resource URI) or `audience`",
                ));
            }
        };
        let jwks = match (raw.jwks_file, raw.jwks_url) {
            (Some(file), None) => JwksSource::File(self.path(&key.child("jwks_file"), &file)?),
            (None, Some(url)) => {
                JwksSource::Url(self.https_url(&key.child("jwks_url"), &url, false)?)
            }
            _ => {
                return Err(self.error(key, "needs exactly one of `jwks_file` and `jwks_url`"));
            }
        };
        let ca_file = match raw.ca_file {
            Some(ca) => Some(self.path(&key.child("ca_file"), &ca)?),
            None => None,
        };
        let algorithms = match raw.algorithms {
            Some(list) if list.is_empty() => {
                return Err(
                    self.error(&key.child("algorithms"), "must name at least one algorithm")
                );
            }
            Some(list) => list,
            None => DEFAULT_JWT_ALGORITHMS
                .iter()
                .map(|a| (*a).to_owned())
                .collect(),
        };
        for (index, alg) in algorithms.iter().enumerate() {
            if !JWT_ALGORITHMS.contains(&alg.as_str()) {
                return Err(self.error(
                    &key.child("algorithms").index(index),
                    format!(
                        "`{alg}` is not accepted: use {} (HMAC and `none` are never accepted)",
                        JWT_ALGORITHMS.join(", ")
                    ),
                ));
            }
        }
        let leeway = self
            .duration(&key.child("leeway"), raw.leeway.as_deref(), true)?
            .unwrap_or(DEFAULT_LEEWAY);
        if leeway > MAX_LEEWAY {
            return Err(self.error(&key.child("leeway"), "must be at most `5m`"));
        }
        Ok(JwtConfig {
            issuer,
            audience,
            jwks,
            ca_file,
            algorithms,
            leeway,
            subject_claim: raw.subject_claim.unwrap_or_else(|| "sub".to_owned()),
            groups_claim: raw.groups_claim,
            kind: self.kind(
                &key.child("kind"),
                raw.kind.as_deref(),
                PrincipalKindConfig::User,
            )?,
        })
    }

    fn mtls(&self, key: &KeyPath, raw: RawMtls) -> Result<MtlsConfig, ConfigError> {
        let identity = match raw.identity.as_deref() {
            None | Some("auto") => CertIdentityConfig::Auto,
            Some("san-uri") => CertIdentityConfig::SanUri,
            Some("san-email") => CertIdentityConfig::SanEmail,
            Some("san-dns") => CertIdentityConfig::SanDns,
            Some("cn") => CertIdentityConfig::CommonName,
            Some(other) => {
                return Err(self.error(
                    &key.child("identity"),
                    format!(
                        "`{other}` is not one of `auto`, `san-uri`, `san-email`, `san-dns`, `cn`"
                    ),
                ));
            }
        };
        Ok(MtlsConfig {
            identity,
            kind: self.kind(
                &key.child("kind"),
                raw.kind.as_deref(),
                PrincipalKindConfig::Service,
            )?,
        })
    }

    fn tokens(
        &self,
        key: &KeyPath,
        raw: RawTokens,
        resource: Option<&url::Url>,
    ) -> Result<TokensConfig, ConfigError> {
        let Some(resource) = resource else {
            return Err(self.error(
                key,
                "needs `auth.resource`, the gateway's resource URI (the tokens' audience)",
            ));
        };
        let max_ttl = self
            .duration(&key.child("max_ttl"), raw.max_ttl.as_deref(), false)?
            .unwrap_or(DEFAULT_TOKEN_TTL);
        if max_ttl > MAX_TOKEN_TTL {
            return Err(self.error(
                &key.child("max_ttl"),
                "must be at most `24h`: these tokens are meant to be short-lived",
            ));
        }
        Ok(TokensConfig {
            signing_key: match raw.signing_key {
                Some(path) => Some(self.path(&key.child("signing_key"), &path)?),
                None => None,
            },
            issuer: raw.issuer.unwrap_or_else(|| resource.to_string()),
            audience: resource.to_string(),
            max_ttl,
        })
    }

    pub(crate) fn authorization(
        &self,
        raw: RawAuthorization,
    ) -> Result<AuthorizationConfig, ConfigError> {
        let key = KeyPath::root("authorization");
        let list = raw.policies.unwrap_or_default();
        if list.is_empty() {
            return Err(self.error(
                &key.child("policies"),
                "is required: `.cedar` files or directories of them",
            ));
        }
        let mut policies = Vec::with_capacity(list.len());
        for (index, path) in list.iter().enumerate() {
            policies.push(self.path(&key.child("policies").index(index), path)?);
        }
        Ok(AuthorizationConfig {
            policies,
            reload_interval: self
                .duration(
                    &key.child("reload_interval"),
                    raw.reload_interval.as_deref(),
                    false,
                )?
                .unwrap_or(DEFAULT_RELOAD_INTERVAL),
        })
    }

    pub(crate) fn credential(
        &self,
        key: &KeyPath,
        raw: &RawCredential,
        http: bool,
    ) -> Result<CredentialConfig, ConfigError> {
        let source = match (&raw.from_env, &raw.from_file) {
            (Some(name), None) => {
                self.env_name(&key.child("from_env"), name)?;
                SecretRef::Env(name.clone())
            }
            (None, Some(path)) => SecretRef::File(self.path(&key.child("from_file"), path)?),
            _ => return Err(self.error(key, "needs exactly one of `from_env` and `from_file`")),
        };
        let target = if http {
            if raw.env.is_some() {
                return Err(self.error(
                    &key.child("env"),
                    "is for stdio upstreams; use `header` for http",
                ));
            }
            let name = raw
                .header
                .clone()
                .unwrap_or_else(|| "Authorization".to_owned());
            if !is_token(&name) {
                return Err(self.error(
                    &key.child("header"),
                    format!("`{name}` is not a valid HTTP header name"),
                ));
            }
            let lower = name.to_ascii_lowercase();
            if MANAGED_HEADERS.contains(&lower.as_str()) {
                return Err(self.error(
                    &key.child("header"),
                    format!("`{name}` is set by the gateway and cannot carry a credential"),
                ));
            }
            let prefix = raw.prefix.clone().unwrap_or_else(|| {
                if lower == "authorization" {
                    "Bearer ".to_owned()
                } else {
                    String::new()
                }
            });
            if !prefix.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
                return Err(self.error(
                    &key.child("prefix"),
                    "must contain only visible ASCII characters and spaces",
                ));
            }
            CredentialTarget::Header {
                name: lower,
                prefix,
            }
        } else {
            if raw.header.is_some() || raw.prefix.is_some() {
                return Err(self.error(
                    key,
                    "`header` and `prefix` are for http upstreams; use `env` for stdio",
                ));
            }
            let Some(name) = &raw.env else {
                return Err(self.error(&key.child("env"), "is required for a stdio upstream: the child's variable that carries the secret"));
            };
            self.env_name(&key.child("env"), name)?;
            CredentialTarget::Env(name.clone())
        };
        Ok(CredentialConfig { source, target })
    }

    /// Checks that need more than one section.
    pub(crate) fn cross_check(&self, config: &Config) -> Result<(), ConfigError> {
        if let Some(auth) = &config.auth
            && auth.mtls.is_some()
            && config
                .server
                .tls
                .as_ref()
                .and_then(|t| t.client_ca.as_ref())
                .is_none()
        {
            return Err(self.error(
                &KeyPath::root("auth").child("mtls"),
                "needs `server.tls.client_ca`, the authorities client certificates must chain to",
            ));
        }
        for upstream in &config.upstreams {
            if let (Some(credential), crate::model::UpstreamTransport::Http(http)) =
                (&upstream.credential, &upstream.transport)
                && let CredentialTarget::Header { name, .. } = &credential.target
                && http.headers.contains_key(name)
            {
                return Err(self.error(
                    &KeyPath::root("upstreams")
                        .child(&upstream.name)
                        .child("headers")
                        .child(name),
                    "is also set by `credential`; remove one",
                ));
            }
        }
        Ok(())
    }
}
