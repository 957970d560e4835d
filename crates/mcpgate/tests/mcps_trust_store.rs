//! The gateway's MCPS trust store through the real binary: passports whose trust levels are
//! computed from verified issuer chains (never from the passport's own claim) and keys named by
//! `did:key` and `did:web` (resolved over HTTPS from a local server with its own CA).
//!
//! Passports:
//!
//! The trust store trusts one issuer, `root-ta`, up to level 3. Agents:
//!
//! * `direct`: issued by `root-ta`, claims 4 → level 3 (the issuer's grant);
//! * `chained`: issued by the intermediate `ca-1` (itself issued by `root-ta` with level 1 and
//!   the issuing capability) → level 1, through the chain;
//! * `selfish`: self-issued, claims 4 → level 0;
//! * `lapsed`: issued by `root-ta` but expired → left out of the store (`unknown_signer`).
//!
//! `write_note` needs level 2.

#![expect(clippy::unwrap_used, reason = "test code")]

use std::path::Path;
use std::time::Duration;

use mcpgate_https::testing::{Reply, TestServer};
use mcpgate_test::mcps::{McpsGateway, sign_a, sign_native, verdict, write_note};
use mcps::Profile;

use mcps::did::to_did_key;
use mcps::keys::{Algorithm, SigningKey};
use mcps::passport::{NewPassport, Passport};
use mcps::time::Timestamp;
use mcps::trust::{ISSUER_CAPABILITY, chain_entry};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_mcpgate");

fn key() -> SigningKey {
    SigningKey::generate(Algorithm::EcdsaP256).unwrap()
}

struct Issued {
    key: SigningKey,
    passport: Passport,
}

impl Issued {
    fn id(&self) -> &str {
        self.passport.passport_id().unwrap()
    }
}

#[expect(clippy::too_many_arguments, reason = "test fixture")]
fn issue(
    name: &str,
    issuer: &str,
    claimed: u8,
    capabilities: &[&str],
    chain: &[&Passport],
    signer: Option<&SigningKey>,
    issued_at: Timestamp,
    ttl: Duration,
) -> Issued {
    let key = key();
    let mut new = NewPassport::new(name, key.verifying_key(), issued_at);
    new.issuer = issuer.into();
    new.trust_level = Some(claimed);
    new.ttl = ttl;
    new.capabilities = capabilities.iter().map(|c| (*c).to_owned()).collect();
    let mut passport = Passport::create_for(Profile::B, new).unwrap();
    passport
        .set_issuer_chain(chain.iter().map(|p| chain_entry(p).unwrap()).collect())
        .unwrap();
    passport.sign(signer.unwrap_or(&key)).unwrap();
    Issued { key, passport }
}

const YEAR: Duration = Duration::from_secs(365 * 86_400);

struct Agents {
    root: SigningKey,
    ca: Issued,
    direct: Issued,
    chained: Issued,
    selfish: Issued,
    lapsed: Issued,
}

fn agents() -> Agents {
    let root = key();
    let now = Timestamp::now();
    let ca = issue(
        "ca-1",
        "root-ta",
        1,
        &[ISSUER_CAPABILITY],
        &[],
        Some(&root),
        now,
        YEAR,
    );
    let direct = issue("direct", "root-ta", 4, &[], &[], Some(&root), now, YEAR);
    let chained = issue(
        "chained",
        "ca-1",
        4,
        &[],
        &[&ca.passport],
        Some(&ca.key),
        now,
        YEAR,
    );
    let selfish = issue("selfish", "self", 4, &[], &[], None, now, YEAR);
    let long_ago = now.saturating_sub(Duration::from_secs(7200));
    let lapsed = issue(
        "lapsed",
        "root-ta",
        3,
        &[],
        &[],
        Some(&root),
        long_ago,
        Duration::from_secs(3600),
    );
    Agents {
        root,
        ca,
        direct,
        chained,
        selfish,
        lapsed,
    }
}

/// Writes the trust store (issuer + passports) into `dir`.
fn write_store(dir: &Path, agents: &Agents, passports: &[&Issued]) {
    std::fs::write(
        dir.join("root-ta.pub.pem"),
        agents.root.verifying_key().to_spki_pem().unwrap(),
    )
    .unwrap();
    let mut store = String::from(
        "origin = \"https://gateway.example\"\n\n\
         [[issuers]]\nname = \"root-ta\"\npublic_key = \"root-ta.pub.pem\"\ntrust_level = 3\n\n",
    );
    for (i, issued) in passports.iter().enumerate() {
        let file = format!("passport-{i}.json");
        std::fs::write(dir.join(&file), issued.passport.to_json().unwrap()).unwrap();
        store.push_str(&format!("[[passports]]\npath = \"{file}\"\n\n"));
    }
    std::fs::write(dir.join("trust.toml"), store).unwrap();
}

/// The `[mcps]` section: this trust store, a revocation list, `write_note` needs level 2.
const MCPS: &str = "[mcps]\ntrust_store = \"trust.toml\"\nrevocation_list = \"revoked.txt\"\n\
    revocation_reload_interval = \"100ms\"\nwindow = \"60s\"\nreplay = \"memory\"\n\
    [mcps.require.demo]\nsigned = true\nmin_trust_level = 2\ntools = [\"write_note\"]\n";

fn signed(id: u64, path: &str, agent: &Issued) -> String {
    sign_a(&write_note(id, path), agent.id(), &agent.key)
}

#[tokio::test]
async fn trust_levels_come_from_verified_issuer_chains() {
    let agents = agents();
    let dir = tempfile::tempdir().unwrap();
    write_store(
        dir.path(),
        &agents,
        &[
            &agents.direct,
            &agents.chained,
            &agents.selfish,
            &agents.lapsed,
        ],
    );
    std::fs::write(dir.path().join("revoked.txt"), "").unwrap();
    let revoked_list = dir.path().join("revoked.txt");
    let g = McpsGateway::start(Path::new(BIN), dir, MCPS).await;
    let send = |wire: String| {
        let g = &g;
        async move { g.send(&wire).await }
    };

    // Level 3 from the trusted issuer (the passport claims 4).
    let answer = send(signed(1, "direct.txt", &agents.direct)).await;
    assert_eq!(verdict(&answer), None, "{}", answer.body);
    // Level 1 through the intermediate, whatever the passport claims.
    let answer = send(signed(2, "chained.txt", &agents.chained)).await;
    assert_eq!(verdict(&answer).as_deref(), Some("insufficient_trust"));
    assert!(
        answer.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the signer has 1"),
        "{}",
        answer.body
    );
    // Self-issued: level 0.
    let answer = send(signed(3, "self.txt", &agents.selfish)).await;
    assert!(
        answer.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the signer has 0"),
        "{}",
        answer.body
    );
    // Expired at start: not in the store.
    let answer = send(signed(4, "lapsed.txt", &agents.lapsed)).await;
    assert_eq!(verdict(&answer).as_deref(), Some("unknown_signer"));
    assert!(
        g.gw.stderr()
            .contains("MCPS passport left out of the trust store")
    );

    // Revoking the intermediate revokes what it issued, not what the root issued directly.
    std::fs::write(&revoked_list, format!("{}\n", agents.ca.id())).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answer = send(signed(5, "chained2.txt", &agents.chained)).await;
    assert_eq!(verdict(&answer).as_deref(), Some("revoked"));
    let answer = send(signed(6, "direct2.txt", &agents.direct)).await;
    assert_eq!(verdict(&answer), None, "{}", answer.body);

    // The audit records carry the verified signer and its computed level.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let audit = g.gw.audit();
    let record = |signer: &str| {
        audit
            .iter()
            .find(|r| r["signer"] == signer && r["method"] == "tools/call")
            .unwrap_or_else(|| panic!("no audit record for {signer}: {audit:?}"))
            .clone()
    };
    let direct = record(agents.direct.id());
    assert_eq!(direct["trust_level"], 3);
    assert_eq!(direct["verdict"], "allow");
    let chained = record(agents.chained.id());
    assert_eq!(chained["trust_level"], 1);
    assert_eq!(chained["verdict"], "deny");
    assert_eq!(chained["mcps"], "insufficient_trust");
    assert!(
        audit
            .iter()
            .any(|r| r["mcps"] == "revoked" && r["signer"].is_null()),
        "the revoked call is audited without a trusted signer"
    );
}

/// A passport that does not verify keeps the gateway from starting, naming file and reason.
#[tokio::test]
async fn untrusted_or_forged_passports_refuse_start() {
    let agents = agents();
    let forged = issue(
        "forged",
        "root-ta",
        3,
        &[],
        &[],
        Some(&agents.ca.key),
        Timestamp::now(),
        YEAR,
    );
    // Chained through an intermediate that lacks the issuing capability.
    let plain_ca = issue(
        "ca-2",
        "root-ta",
        3,
        &[],
        &[],
        Some(&agents.root),
        Timestamp::now(),
        YEAR,
    );
    let unrole = issue(
        "unrole",
        "ca-2",
        3,
        &[],
        &[&plain_ca.passport],
        Some(&plain_ca.key),
        Timestamp::now(),
        YEAR,
    );
    let stranger = issue(
        "stranger",
        "elsewhere",
        3,
        &[],
        &[],
        Some(&agents.root),
        Timestamp::now(),
        YEAR,
    );
    // Bound to another server's origin.
    let elsewhere = {
        let key = key();
        let mut new = NewPassport::new("elsewhere", key.verifying_key(), Timestamp::now());
        new.issuer = "root-ta".into();
        new.origin = Some("https://other.example".into());
        let mut passport = Passport::create_for(Profile::B, new).unwrap();
        passport.sign(&agents.root).unwrap();
        Issued { key, passport }
    };
    for (issued, code) in [
        (&elsewhere, "origin_mismatch"),
        (&forged, "passport_bad_signature"),
        (&unrole, "passport_chain_broken"),
        (&stranger, "untrusted_issuer"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        write_store(dir.path(), &agents, &[issued]);
        std::fs::write(dir.path().join("revoked.txt"), "").unwrap();
        let error = McpsGateway::start_error(Path::new(BIN), dir, MCPS).await;
        assert!(
            error.contains("exited early")
                && error.contains("passport-0.json")
                && error.contains(code),
            "{code}: {error}"
        );
    }
}

/// Signers and issuers named by DIDs: an Ed25519 native signer and a P-256 issuer from a
/// `did:web` document, a P-256 profile A signer by `did:key`.
#[tokio::test]
async fn did_web_and_did_key_entries() {
    let server = TestServer::start().await.unwrap();
    let did = format!("did:web:127.0.0.1%3A{}", server.port());
    let native = SigningKey::generate(Algorithm::Ed25519).unwrap();
    let issuer = key();
    let by_did_key = key();
    let multibase = |k: &SigningKey| {
        to_did_key(&k.verifying_key())
            .strip_prefix("did:key:")
            .unwrap()
            .to_owned()
    };
    let document = json!({
        "id": did,
        "verificationMethod": [
            {"id": "#agent", "type": "Multikey", "controller": did,
             "publicKeyMultibase": multibase(&native)},
            {"id": format!("{did}#issuer"), "type": "JsonWebKey2020", "controller": did,
             "publicKeyJwk": serde_json::from_str::<serde_json::Value>(
                 &issuer.verifying_key().to_jwk().to_json().unwrap()).unwrap()},
        ]
    });
    server.route("/.well-known/did.json", Reply::json(document.to_string()));
    let agent = issue(
        "web-issued",
        "web-ta",
        2,
        &[],
        &[],
        Some(&issuer),
        Timestamp::now(),
        YEAR,
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(server.ca_path().unwrap(), dir.path().join("ca.pem")).unwrap();
    std::fs::write(
        dir.path().join("passport.json"),
        agent.passport.to_json().unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("revoked.txt"), "").unwrap();
    let store = format!(
        "did_web_extra_ca = \"ca.pem\"\n\
         [[signers]]\nid = \"web-agent\"\ndid = \"{did}#agent\"\ntrust_level = 2\n\
         [[signers]]\nid = \"asp_00000000000000000000000000000001\"\ndid = \"{}\"\ntrust_level = 2\n\
         [[issuers]]\nname = \"web-ta\"\ndid = \"{did}#issuer\"\ntrust_level = 3\n\
         [[passports]]\npath = \"passport.json\"\n",
        to_did_key(&by_did_key.verifying_key())
    );
    std::fs::write(dir.path().join("trust.toml"), &store).unwrap();
    let g = McpsGateway::start(Path::new(BIN), dir, MCPS).await;
    // Fetched at start, once per DID URL (two keys of one document), and then pinned.
    assert_eq!(server.requests().len(), 2, "{:?}", server.requests());
    let send = |wire: String| {
        let g = &g;
        async move { g.send(&wire).await }
    };

    let native_wire = sign_native(&write_note(1, "web.txt"), &native);
    let answer = send(native_wire).await;
    assert_eq!(verdict(&answer), None, "{}", answer.body);
    let keyed = Issued {
        key: by_did_key,
        passport: agent.passport.clone(),
    };
    let a_wire = sign_a(
        &write_note(2, "key.txt"),
        "asp_00000000000000000000000000000001",
        &keyed.key,
    );
    let answer = send(a_wire).await;
    assert_eq!(verdict(&answer), None, "{}", answer.body);
    // The passport issued by the did:web issuer: level 2 (its claim, under the grant of 3).
    let answer = send(signed(3, "passport.txt", &agent)).await;
    assert_eq!(verdict(&answer), None, "{}", answer.body);
    assert_eq!(
        server.requests().len(),
        2,
        "keys are pinned, not fetched per message"
    );

    // A DID that cannot be resolved stops the start, naming the entry.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(server.ca_path().unwrap(), dir.path().join("ca.pem")).unwrap();
    std::fs::write(dir.path().join("revoked.txt"), "").unwrap();
    std::fs::write(
        dir.path().join("trust.toml"),
        format!(
            "did_web_extra_ca = \"ca.pem\"\n[[signers]]\nid = \"gone\"\n\
             did = \"{did}:missing#k\"\ntrust_level = 1\n"
        ),
    )
    .unwrap();
    let error = McpsGateway::start_error(Path::new(BIN), dir, MCPS).await;
    assert!(
        error.contains("signer `gone`") && error.contains("cannot resolve"),
        "{error}"
    );
}

/// SIGHUP reloads the trust store: a passport added to it is trusted from then on; a store
/// that does not load is refused and the one in force stays.
#[tokio::test]
async fn sighup_reloads_the_trust_store() {
    let agents = agents();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    write_store(&root, &agents, &[&agents.direct]);
    std::fs::write(root.join("revoked.txt"), "").unwrap();
    let g = McpsGateway::start(Path::new(BIN), dir, MCPS).await;
    let hup = || {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(g.gw.pid()).unwrap()),
            nix::sys::signal::Signal::SIGHUP,
        )
        .unwrap();
    };
    let code = |id: u64| {
        let g = &g;
        let wire = signed(id, &format!("c{id}.txt"), &agents.chained);
        async move { verdict(&g.send(&wire).await) }
    };
    assert_eq!(code(1).await.as_deref(), Some("unknown_signer"));

    write_store(&root, &agents, &[&agents.direct, &agents.chained]);
    hup();
    let mut id = 2;
    // Bounded wait for the reload: at most 100 × 50 ms.
    while code(id).await.as_deref() == Some("unknown_signer") && id < 100 {
        id += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        code(id + 1).await.as_deref(),
        Some("insufficient_trust"),
        "the chained passport (level 1) is known after the reload"
    );
    assert!(g.gw.stderr().contains("MCPS trust store reloaded"));

    std::fs::write(root.join("trust.toml"), "[[signers]]\nid = \"broken\"\n").unwrap();
    hup();
    for _ in 0..100 {
        if g.gw.stderr().contains("the MCPS trust store was refused") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(g.gw.stderr().contains("the MCPS trust store was refused"));
    assert_eq!(
        code(200).await.as_deref(),
        Some("insufficient_trust"),
        "the store in force stays"
    );
}

/// A trust store that is not usable stops the start with a message naming the problem.
#[tokio::test]
async fn malformed_trust_stores_refuse_start() {
    let key = key();
    let pem = key.verifying_key().to_spki_pem().unwrap();
    for (store, expected) in [
        (
            "[[signers]]\nid = \"a\"\npublic_key = \"k.pem\"\ntrust_level = 5\n",
            "signer `a` has trust_level 5; use 0 to 4",
        ),
        (
            "[[issuers]]\nname = \"ta\"\npublic_key = \"k.pem\"\ntrust_level = 9\n",
            "issuer `ta` has trust_level 9; use 0 to 4",
        ),
        (
            "[[signers]]\nid = \"a\"\npublic_key = \"k.pem\"\ndid = \"did:key:z6Mk\"\ntrust_level = 1\n",
            "signer `a` needs exactly one of `public_key` and `did`",
        ),
        (
            "[[signers]]\nid = \"a\"\ntrust_level = 1\n",
            "signer `a` needs exactly one of `public_key` and `did`",
        ),
        (
            "[[signers]]\nid = \"a\"\npublic_key = \"missing.pem\"\ntrust_level = 1\n",
            "cannot read the public key",
        ),
        (
            "[[issuers]]\nname = \"self\"\npublic_key = \"k.pem\"\ntrust_level = 1\n",
            "issuer `self`",
        ),
        (
            "[[passports]]\npath = \"missing.json\"\n",
            "cannot read the MCPS passport",
        ),
        (
            "origin = \"gateway.example\"\n",
            "`origin` must be scheme://host[:port]",
        ),
        ("[[signers]]\nid = \"a\"\nkey = \"k.pem\"\n", "is not valid"),
        (
            "[[signers]]\nid = \"a\"\ndid = \"did:example:123\"\ntrust_level = 1\n",
            "cannot resolve `did:example:123` (signer `a`)",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k.pem"), &pem).unwrap();
        std::fs::write(dir.path().join("revoked.txt"), "").unwrap();
        std::fs::write(dir.path().join("trust.toml"), store).unwrap();
        let error = McpsGateway::start_error(Path::new(BIN), dir, MCPS).await;
        assert!(error.contains(expected), "{store}\n---\n{error}");
        assert!(
            !error.contains("BEGIN PUBLIC KEY"),
            "key material in the error: {error}"
        );
    }
}
