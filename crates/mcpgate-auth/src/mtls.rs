//! Principals from TLS client certificates.
//!
//! This module only reads the identity out of a certificate: the TLS layer must already have
//! verified the chain against the configured client CA before calling
//! [`principal_from_certificate`].

use mcpgate_core::{AuthMethod, Principal, PrincipalKind};
use serde_json::Value;
use x509_parser::prelude::{FromDer as _, GeneralName, X509Certificate};

use crate::AuthError;

/// Which subject alternative name to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SanKind {
    /// A URI SAN, such as a SPIFFE id (`spiffe://trust-domain/workload`).
    Uri,
    /// An email SAN (`rfc822Name`).
    Email,
    /// A DNS SAN.
    Dns,
}

/// Where the principal id comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CertIdentity {
    /// The first URI SAN, else the first email SAN, else the first DNS SAN, else the subject
    /// common name.
    #[default]
    Auto,
    /// The first SAN of this kind; an error when there is none.
    San(SanKind),
    /// The subject common name; an error when there is none.
    CommonName,
}

/// The principal a verified client certificate (DER) identifies.
///
/// Its attributes are `subject` (the subject distinguished name) and `serial` (lower-case hex);
/// its method is [`AuthMethod::Mtls`].
pub fn principal_from_certificate(
    der: &[u8],
    rule: CertIdentity,
    kind: PrincipalKind,
) -> Result<Principal, AuthError> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|_| AuthError::InvalidCertificate("not a DER X.509 certificate".into()))?;
    let id = match rule {
        CertIdentity::Auto => [SanKind::Uri, SanKind::Email, SanKind::Dns]
            .into_iter()
            .find_map(|k| first_san(&cert, k))
            .or_else(|| common_name(&cert)),
        CertIdentity::San(k) => first_san(&cert, k),
        CertIdentity::CommonName => common_name(&cert),
    }
    .filter(|id| !id.is_empty())
    .ok_or_else(|| {
        AuthError::InvalidCertificate(match rule {
            CertIdentity::Auto => {
                "the certificate has no subject alternative name and no common name".into()
            }
            CertIdentity::San(k) => format!(
                "the certificate has no {} subject alternative name",
                san_name(k)
            ),
            CertIdentity::CommonName => "the certificate subject has no common name".into(),
        })
    })?;
    let mut principal = Principal::new(id, kind, AuthMethod::Mtls);
    principal
        .attributes
        .insert("subject".into(), Value::String(cert.subject().to_string()));
    let serial: String = cert
        .tbs_certificate
        .raw_serial()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    principal
        .attributes
        .insert("serial".into(), Value::String(serial));
    Ok(principal)
}

fn san_name(kind: SanKind) -> &'static str {
    match kind {
        SanKind::Uri => "URI",
        SanKind::Email => "email",
        SanKind::Dns => "DNS",
    }
}

fn first_san(cert: &X509Certificate<'_>, kind: SanKind) -> Option<String> {
    let san = cert.subject_alternative_name().ok().flatten()?;
    san.value
        .general_names
        .iter()
        .find_map(|name| match (kind, name) {
            (SanKind::Uri, GeneralName::URI(v))
            | (SanKind::Email, GeneralName::RFC822Name(v))
            | (SanKind::Dns, GeneralName::DNSName(v)) => Some((*v).to_owned()),
            _ => None,
        })
}

fn common_name(cert: &X509Certificate<'_>) -> Option<String> {
    cert.subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned)
}
