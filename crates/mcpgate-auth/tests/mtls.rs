//! Principals from client certificates made with rcgen.

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

use mcpgate_auth::{CertIdentity, SanKind, principal_from_certificate};
use mcpgate_core::{AuthMethod, PrincipalKind};
use rcgen::{CertificateParams, DnType, KeyPair, SanType};

fn cert(cn: Option<&str>, sans: Vec<SanType>) -> Vec<u8> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(cn) = cn {
        params.distinguished_name.push(DnType::CommonName, cn);
    }
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Example");
    params.subject_alt_names = sans;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x01, 0xab]));
    params
        .self_signed(&KeyPair::generate().expect("key"))
        .expect("cert")
        .der()
        .to_vec()
}

fn ia5(s: &str) -> rcgen::string::Ia5String {
    s.try_into().expect("ia5")
}

#[test]
fn san_uri_wins_in_auto_mode() {
    let der = cert(
        Some("workload"),
        vec![
            SanType::DnsName(ia5("svc.example")),
            SanType::Rfc822Name(ia5("svc@example.org")),
            SanType::URI(ia5("spiffe://example.org/ns/prod/sa/billing")),
        ],
    );
    let p = principal_from_certificate(&der, CertIdentity::Auto, PrincipalKind::Service)
        .expect("principal");
    assert_eq!(p.id, "spiffe://example.org/ns/prod/sa/billing");
    assert_eq!(p.method, AuthMethod::Mtls);
    assert_eq!(p.kind, PrincipalKind::Service);
    let subject = p.attributes["subject"].as_str().expect("subject");
    assert!(
        subject.contains("CN=workload") && subject.contains("O=Example"),
        "{subject}"
    );
    assert_eq!(p.attributes["serial"], "01ab");

    let email =
        principal_from_certificate(&der, CertIdentity::San(SanKind::Email), PrincipalKind::User)
            .expect("email");
    assert_eq!(email.id, "svc@example.org");
    let dns =
        principal_from_certificate(&der, CertIdentity::San(SanKind::Dns), PrincipalKind::User)
            .expect("dns");
    assert_eq!(dns.id, "svc.example");
    let cn = principal_from_certificate(&der, CertIdentity::CommonName, PrincipalKind::User)
        .expect("cn");
    assert_eq!(cn.id, "workload");
}

#[test]
fn auto_falls_back_to_email_dns_then_common_name() {
    let der = cert(
        Some("x"),
        vec![
            SanType::DnsName(ia5("a.example")),
            SanType::Rfc822Name(ia5("a@example.org")),
        ],
    );
    assert_eq!(
        principal_from_certificate(&der, CertIdentity::Auto, PrincipalKind::User)
            .expect("p")
            .id,
        "a@example.org"
    );
    let der = cert(Some("x"), vec![SanType::DnsName(ia5("a.example"))]);
    assert_eq!(
        principal_from_certificate(&der, CertIdentity::Auto, PrincipalKind::User)
            .expect("p")
            .id,
        "a.example"
    );
    let der = cert(Some("only-cn"), vec![]);
    assert_eq!(
        principal_from_certificate(&der, CertIdentity::Auto, PrincipalKind::User)
            .expect("p")
            .id,
        "only-cn"
    );
}

#[test]
fn missing_identity_and_garbage_are_errors() {
    let der = cert(Some("only-cn"), vec![]);
    let err =
        principal_from_certificate(&der, CertIdentity::San(SanKind::Uri), PrincipalKind::User)
            .expect_err("no uri");
    assert!(err.to_string().contains("URI"), "{err}");
    let der = cert(None, vec![]);
    assert!(principal_from_certificate(&der, CertIdentity::Auto, PrincipalKind::User).is_err());
    assert!(
        principal_from_certificate(&der, CertIdentity::CommonName, PrincipalKind::User).is_err()
    );
    assert!(
        principal_from_certificate(
            b"not a certificate",
            CertIdentity::Auto,
            PrincipalKind::User
        )
        .is_err()
    );
}
