//! The security sections: TLS, authentication, authorization and upstream credentials.

#![expect(clippy::panic, reason = "test code")]

use std::time::Duration;

use mcpgate_config::{
    CertIdentityConfig, ClientAuth, CredentialTarget, JwksSource, PrincipalKindConfig, SecretRef,
    parse,
};

const DEMO: &str = "[upstreams.demo]\ntransport = \"stdio\"\ncommand = \"$MCPGATE\"\n";
const HASH: &str = "sha256$c2FsdHNhbHRzYWx0c2FsdA$ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGk";

fn refused(text: &str) -> String {
    match parse(text, "test.toml") {
        Ok(config) => panic!("accepted {config:?}\n--- text ---\n{text}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn full_security_configuration_is_read() {
    let text = format!(
        r#"{DEMO}
[server.tls]
cert = "tls/cert.pem"
key = "tls/key.pem"
client_ca = "tls/ca.pem"
client_auth = "optional"

[auth]
resource = "https://mcp.example.com/mcp"
required_scopes = ["mcp"]
scopes_supported = ["mcp", "mcp:admin"]

[[auth.api_keys]]
principal = "alice"
hash = "{HASH}"
groups = ["admins"]
attributes = {{ team = "platform", level = 3 }}

[[auth.jwt]]
issuer = "https://issuer.example.com"
jwks_url = "https://issuer.example.com/jwks.json"
algorithms = ["ES256"]
leeway = "10s"
groups_claim = "groups"
kind = "agent"

[auth.mtls]
identity = "san-uri"

[auth.stdio]
principal = "carol"

[auth.tokens]
max_ttl = "5m"

[authorization]
policies = ["policies"]
reload_interval = "500ms"

[upstreams.api]
transport = "http"
url = "https://api.example.com/mcp"
credential = {{ from_env = "API_TOKEN" }}

[upstreams.local]
transport = "stdio"
command = "server"
credential = {{ from_file = "secrets/token", env = "SERVER_TOKEN" }}
"#
    );
    let config = parse(&text, "/etc/mcpgate/test.toml").unwrap();
    let tls = config.server.tls.as_ref().unwrap();
    assert_eq!(tls.cert, std::path::Path::new("/etc/mcpgate/tls/cert.pem"));
    assert_eq!(tls.client_auth, ClientAuth::Optional);
    let auth = config.auth.as_ref().unwrap();
    assert_eq!(
        auth.metadata_url().as_deref(),
        Some("https://mcp.example.com/.well-known/oauth-protected-resource/mcp")
    );
    assert_eq!(auth.authorization_servers, ["https://issuer.example.com"]);
    assert_eq!(auth.api_keys[0].principal.id, "alice");
    assert_eq!(auth.api_keys[0].principal.attributes["level"], 3);
    assert!(!format!("{:?}", auth.api_keys[0]).contains(HASH));
    let jwt = &auth.jwt[0];
    assert_eq!(jwt.audience, "https://mcp.example.com/mcp");
    assert!(matches!(&jwt.jwks, JwksSource::Url(u) if u.path() == "/jwks.json"));
    assert_eq!(jwt.leeway, Duration::from_secs(10));
    assert_eq!(jwt.kind, PrincipalKindConfig::Agent);
    assert_eq!(auth.mtls.unwrap().identity, CertIdentityConfig::SanUri);
    assert_eq!(auth.stdio.id, "carol");
    let tokens = auth.tokens.as_ref().unwrap();
    assert_eq!(tokens.issuer, "https://mcp.example.com/mcp");
    assert_eq!(tokens.max_ttl, Duration::from_secs(300));
    let authz = config.authorization.as_ref().unwrap();
    assert_eq!(authz.reload_interval, Duration::from_millis(500));
    let api = config.upstream("api").unwrap().credential.as_ref().unwrap();
    assert_eq!(api.source, SecretRef::Env("API_TOKEN".into()));
    assert_eq!(
        api.target,
        CredentialTarget::Header {
            name: "authorization".into(),
            prefix: "Bearer ".into()
        }
    );
    let local = config
        .upstream("local")
        .unwrap()
        .credential
        .as_ref()
        .unwrap();
    assert_eq!(local.target, CredentialTarget::Env("SERVER_TOKEN".into()));
}

#[test]
fn unsafe_or_incomplete_security_settings_are_refused() {
    let cases: &[(&str, &str)] = &[
        (
            "[auth]\n[[auth.api_keys]]\nprincipal = \"a\"\nhash = \"demo-alice-key\"\n",
            "never the key itself",
        ),
        ("[auth]\n", "no way to authenticate"),
        (
            "[auth]\n[[auth.jwt]]\nissuer = \"https://i\"\njwks_file = \"j.json\"\n",
            "auth.resource",
        ),
        (
            "[auth]\nresource = \"https://r/mcp\"\n[[auth.jwt]]\nissuer = \"https://i\"\njwks_file = \"j\"\nalgorithms = [\"HS256\"]\n",
            "HMAC and `none` are never accepted",
        ),
        (
            "[auth]\nresource = \"https://r/mcp\"\n[[auth.jwt]]\nissuer = \"https://i\"\njwks_url = \"http://i/jwks\"\n",
            "must use `https`",
        ),
        (
            "[auth]\nresource = \"https://r/mcp\"\n[[auth.jwt]]\nissuer = \"https://i\"\n",
            "exactly one of `jwks_file` and `jwks_url`",
        ),
        ("[auth]\n[auth.mtls]\n", "server.tls.client_ca"),
        (
            "[auth]\n[[auth.api_keys]]\nprincipal = \"a\"\nhash = \"sha256$a$b\"\n[auth.tokens]\n",
            "auth.resource",
        ),
        ("[authorization]\npolicies = []\n", "is required"),
        ("[server.tls]\ncert = \"c.pem\"\n", "`server.tls.key`"),
        (
            "[upstreams.x]\ntransport = \"stdio\"\ncommand = \"s\"\ncredential = { from_env = \"T\" }\n",
            "`upstreams.x.credential.env`",
        ),
        (
            "[upstreams.x]\ntransport = \"http\"\nurl = \"http://127.0.0.1:1/\"\ncredential = { from_env = \"T\", from_file = \"f\" }\n",
            "exactly one of `from_env` and `from_file`",
        ),
        (
            "[upstreams.x]\ntransport = \"http\"\nurl = \"http://127.0.0.1:1/\"\nheaders = { Authorization = \"x\" }\ncredential = { from_env = \"T\" }\n",
            "also set by `credential`",
        ),
    ];
    for (body, expected) in cases {
        let text = format!("{DEMO}{body}");
        let message = refused(&text);
        assert!(message.contains(expected), "{message}\n--- for ---\n{body}");
        assert!(!message.contains("demo-alice-key"), "{message}");
    }
}
