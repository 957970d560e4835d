//! Turns the configuration's security sections into running parts: the authenticator, the
//! policy engine (with its reload task), upstream credentials and the TLS server settings.

use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context;
use mcpgate_auth::{
    Algorithm, ApiKeys, Authenticator, AuthenticatorConfig, CertIdentity, IssuerKey, JwtValidator,
    SanKind, TokenIssuer,
};
use mcpgate_config::{
    AuthConfig, CertIdentityConfig, Config, CredentialTarget, PrincipalConfig, PrincipalKindConfig,
    SecretRef, UpstreamTransport,
};
use mcpgate_core::{AuthMethod, Principal, PrincipalKind};
use mcpgate_policy::{PolicyEngine, ReloadOutcome};
use mcpgate_transport::gateway::Security;

pub(crate) fn kind(kind: PrincipalKindConfig) -> PrincipalKind {
    match kind {
        PrincipalKindConfig::User => PrincipalKind::User,
        PrincipalKindConfig::Service => PrincipalKind::Service,
        PrincipalKindConfig::Agent => PrincipalKind::Agent,
    }
}

/// A configured principal, authenticated by `method`.
pub(crate) fn principal(config: &PrincipalConfig, method: AuthMethod) -> Principal {
    let mut p = Principal::new(config.id.clone(), kind(config.kind), method);
    p.groups.clone_from(&config.groups);
    p.attributes.clone_from(&config.attributes);
    p
}

/// The authenticator and stdio principal for `config`.
pub(crate) fn security(config: &Config) -> anyhow::Result<Security> {
    let Some(auth) = &config.auth else {
        return Ok(Security::default());
    };
    Ok(Security {
        authenticator: Some(Arc::new(authenticator(auth)?)),
        stdio_principal: Arc::new(principal(&auth.stdio, AuthMethod::Stdio)),
    })
}

fn authenticator(auth: &AuthConfig) -> anyhow::Result<Authenticator> {
    let api_keys = if auth.api_keys.is_empty() {
        None
    } else {
        let entries = auth
            .api_keys
            .iter()
            .map(|k| (k.hash.clone(), principal(&k.principal, AuthMethod::ApiKey)))
            .collect();
        Some(ApiKeys::new(entries).context("invalid `auth.api_keys`")?)
    };
    let mut jwt = Vec::with_capacity(auth.jwt.len());
    for issuer in &auth.jwt {
        let jwks = match &issuer.jwks {
            mcpgate_config::JwksSource::File(path) => mcpgate_auth::JwksSource::File(path.clone()),
            mcpgate_config::JwksSource::Url(url) => mcpgate_auth::JwksSource::Url(url.clone()),
        };
        let mut cfg =
            mcpgate_auth::JwtConfig::new(issuer.issuer.clone(), issuer.audience.clone(), jwks);
        cfg.algorithms = issuer
            .algorithms
            .iter()
            .map(|a| Algorithm::from_str(a))
            .collect::<Result<_, _>>()
            .with_context(|| format!("`auth.jwt` issuer `{}`: unknown algorithm", issuer.issuer))?;
        cfg.leeway = issuer.leeway;
        cfg.subject_claim.clone_from(&issuer.subject_claim);
        cfg.groups_claim.clone_from(&issuer.groups_claim);
        cfg.kind = kind(issuer.kind);
        cfg.extra_ca.clone_from(&issuer.ca_file);
        jwt.push(
            JwtValidator::new(cfg)
                .with_context(|| format!("`auth.jwt` issuer `{}`", issuer.issuer))?,
        );
    }
    let gateway_tokens = match &auth.tokens {
        None => None,
        Some(tokens) => {
            let key = match &tokens.signing_key {
                Some(path) => IssuerKey::Pem(std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read `auth.tokens.signing_key` `{}`", path.display())
                })?),
                None => IssuerKey::Generate,
            };
            Some(Arc::new(
                TokenIssuer::new(
                    key,
                    tokens.issuer.clone(),
                    tokens.audience.clone(),
                    tokens.max_ttl,
                )
                .context("`auth.tokens`")?,
            ))
        }
    };
    let mtls = auth.mtls.map(|m| {
        let rule = match m.identity {
            CertIdentityConfig::Auto => CertIdentity::Auto,
            CertIdentityConfig::SanUri => CertIdentity::San(SanKind::Uri),
            CertIdentityConfig::SanEmail => CertIdentity::San(SanKind::Email),
            CertIdentityConfig::SanDns => CertIdentity::San(SanKind::Dns),
            CertIdentityConfig::CommonName => CertIdentity::CommonName,
        };
        (rule, kind(m.kind))
    });
    let metadata_url = if auth.jwt.is_empty() {
        None
    } else {
        auth.metadata_url()
    };
    Authenticator::new(AuthenticatorConfig {
        api_keys,
        jwt,
        gateway_tokens,
        mtls,
        required_scopes: auth.required_scopes.clone(),
        metadata_url,
    })
    .context("invalid `[auth]`")
}

/// Loads the policies, and keeps reloading them while the gateway runs: every
/// `reload_interval`, and at once on SIGHUP. A broken set is refused with its position and the
/// set in force stays.
pub(crate) fn policy_engine(config: &Config) -> anyhow::Result<Option<Arc<PolicyEngine>>> {
    let Some(authz) = &config.authorization else {
        if config.auth.is_some() {
            tracing::warn!(
                "authentication is configured without `[authorization]`: every authenticated \
                 principal may use every tool"
            );
        }
        return Ok(None);
    };
    let engine = PolicyEngine::load(&authz.policies).context("cannot load the policies")?;
    tracing::info!(
        policies = engine.policy_count(),
        "authorization policies loaded"
    );
    Ok(Some(Arc::new(engine)))
}

/// Starts the policy reload task (on the current runtime).
pub(crate) fn spawn_policy_reload(
    engine: Arc<PolicyEngine>,
    every: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    spawn_reloader("the policies", Some(every), shutdown, move || {
        let e = Arc::clone(&engine);
        async move {
            match tokio::task::spawn_blocking(move || e.reload()).await {
                Ok(Ok(ReloadOutcome::Unchanged)) => {}
                Ok(Ok(ReloadOutcome::Reloaded { policies })) => {
                    tracing::info!(policies, "authorization policies reloaded");
                }
                Ok(Err(error)) => {
                    tracing::error!(%error, "the new policies were refused; the previous set stays in force");
                }
                Err(error) => tracing::error!(%error, "the policy reload task failed"),
            }
        }
    })
}

/// Runs `reload` on every SIGHUP, and every `every` if set, until `shutdown`.
///
/// # Errors
///
/// When SIGHUP cannot be handled.
pub(crate) fn spawn_reloader<F, Fut>(
    what: &'static str,
    every: Option<std::time::Duration>,
    shutdown: tokio_util::sync::CancellationToken,
    mut reload: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    tokio::spawn(async move {
        loop {
            let tick = async {
                match every {
                    Some(every) => tokio::time::sleep(every).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = tick => {}
                _ = hup.recv() => tracing::info!("SIGHUP: reloading {what}"),
                () = shutdown.cancelled() => return,
            }
            reload().await;
        }
    });
    Ok(())
}

/// Reads every upstream credential from its secret reference and puts it where the upstream
/// transport sends it: a request header, or the child's environment. The values live only in
/// memory, in maps whose `Debug` output is redacted.
pub(crate) fn inject_credentials(config: &mut Config) -> anyhow::Result<()> {
    for upstream in &mut config.upstreams {
        let Some(credential) = &upstream.credential else {
            continue;
        };
        let secret = match &credential.source {
            SecretRef::Env(name) => std::env::var(name).with_context(|| {
                format!(
                    "upstream `{}`: the credential variable `{name}` is not set",
                    upstream.name
                )
            })?,
            SecretRef::File(path) => std::fs::read_to_string(path)
                .with_context(|| {
                    format!(
                        "upstream `{}`: cannot read the credential file `{}`",
                        upstream.name,
                        path.display()
                    )
                })?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
        };
        if secret.is_empty() {
            anyhow::bail!("upstream `{}`: the credential is empty", upstream.name);
        }
        match (&credential.target, &mut upstream.transport) {
            (CredentialTarget::Header { name, prefix }, UpstreamTransport::Http(http)) => {
                let value = format!("{prefix}{secret}");
                if !value
                    .bytes()
                    .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
                {
                    anyhow::bail!(
                        "upstream `{}`: the credential contains characters an HTTP header cannot carry",
                        upstream.name
                    );
                }
                http.headers.insert(name.clone(), value);
            }
            (CredentialTarget::Env(name), UpstreamTransport::Stdio(stdio)) => {
                stdio.env.insert(name.clone(), secret);
            }
            _ => anyhow::bail!(
                "upstream `{}`: the credential target does not match its transport",
                upstream.name
            ),
        }
    }
    Ok(())
}

/// The TLS server settings, when `[server.tls]` is configured.
pub(crate) fn tls(config: &Config) -> anyhow::Result<Option<Arc<rustls::ServerConfig>>> {
    let Some(tls) = &config.server.tls else {
        return Ok(None);
    };
    let settings = mcpgate_transport::tls::TlsSettings {
        cert: tls.cert.clone(),
        key: tls.key.clone(),
        client_ca: tls.client_ca.clone(),
        client_auth: match tls.client_auth {
            mcpgate_config::ClientAuth::Required => mcpgate_transport::tls::ClientAuth::Required,
            mcpgate_config::ClientAuth::Optional => mcpgate_transport::tls::ClientAuth::Optional,
        },
    };
    Ok(Some(
        mcpgate_transport::tls::server_config(&settings).context("invalid `[server.tls]`")?,
    ))
}
