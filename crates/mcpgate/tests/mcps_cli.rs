//! The MCPS commands through the real binary: key generation, sign and verify for every profile
//! and key algorithm the profile supports, rejections with their stable codes, and passports.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Signing and verification time used throughout (2026-11-22T16:05:23Z).
const NOW: i64 = 1_795_363_523;
const PASSPORT_ID: &str = "asp_00112233445566778899aabbccddeeff";
const MESSAGE: &str = r#"{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "héllo ☃"}}}"#;

fn mcpgate(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcpgate"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that fails before reading its input may close stdin first.
    if let Err(error) = child.stdin.take().unwrap().write_all(stdin) {
        assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "{error}");
    }
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs a command that must succeed and returns its stdout.
fn ok(args: &[&str], stdin: &[u8]) -> String {
    let out = mcpgate(args, stdin);
    assert!(
        out.status.success(),
        "mcpgate {args:?} failed ({}): {}",
        out.status,
        stderr(&out)
    );
    stdout(&out)
}

struct KeyPair {
    private: PathBuf,
    public: PathBuf,
}

fn generate(dir: &Path, name: &str, alg: &str) -> KeyPair {
    let out = dir.join(name);
    ok(
        &[
            "keys",
            "generate",
            "--alg",
            alg,
            "--out",
            out.to_str().unwrap(),
        ],
        b"",
    );
    KeyPair {
        private: out.join("private.pem"),
        public: out.join("public.pem"),
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn sign(profile: &str, key: &KeyPair, message: &str) -> String {
    let now = NOW.to_string();
    let mut args = vec![
        "sign",
        "--profile",
        profile,
        "--key",
        path(&key.private),
        "--now",
        &now,
    ];
    if profile != "native" {
        args.extend(["--passport-id", PASSPORT_ID]);
    }
    ok(&args, message.as_bytes())
}

/// Verifies `envelope`; returns the verdict line and the exit code.
fn verify(profile: &str, public: &Path, envelope: &[u8], extra: &[&str]) -> (String, i32) {
    let now = NOW.to_string();
    let mut args = vec!["verify", "--profile", profile, "--pubkey", path(public)];
    if !extra.contains(&"--now") {
        args.extend(["--now", &now]);
    }
    args.extend(extra);
    let out = mcpgate(&args, envelope);
    let code = out.status.code().unwrap();
    let verdict = stdout(&out);
    assert_eq!(
        verdict.lines().count(),
        1,
        "one verdict line, got {verdict:?}; stderr: {}",
        stderr(&out)
    );
    if code == 1 {
        assert!(
            stderr(&out).starts_with("mcpgate: "),
            "a reason on stderr: {}",
            stderr(&out)
        );
    }
    (verdict.trim_end().to_owned(), code)
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn keys_generate_writes_pem_files_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    for (alg, did_prefix) in [("ed25519", "did:key:z6Mk"), ("p256", "did:key:zDn")] {
        let out_dir = dir.path().join(alg);
        let printed = ok(
            &["keys", "generate", "--alg", alg, "--out", path(&out_dir)],
            b"",
        );
        let private = std::fs::read_to_string(out_dir.join("private.pem")).unwrap();
        let public = std::fs::read_to_string(out_dir.join("public.pem")).unwrap();
        assert!(
            private.starts_with("-----BEGIN PRIVATE KEY-----\n"),
            "{alg}"
        );
        assert!(private.trim_end().ends_with("-----END PRIVATE KEY-----"));
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{alg}");
        assert!(public.trim_end().ends_with("-----END PUBLIC KEY-----"));
        #[cfg(unix)]
        assert_eq!(mode(&out_dir.join("private.pem")), 0o600, "{alg}");

        let lines: Vec<&str> = printed.lines().collect();
        assert_eq!(lines[0], format!("algorithm: {alg}"));
        let kid = lines[1].strip_prefix("kid: ").unwrap();
        assert_eq!(kid.len(), 43, "base64url sha-256 thumbprint: {kid}");
        assert!(
            lines[2]
                .strip_prefix("did: ")
                .unwrap()
                .starts_with(did_prefix)
        );
        assert!(!printed.contains("PRIVATE KEY"));
        for body in private.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!printed.contains(body), "private key material printed");
        }

        // A second run refuses to replace the keys and leaves them alone.
        let again = mcpgate(
            &["keys", "generate", "--alg", alg, "--out", path(&out_dir)],
            b"",
        );
        assert_eq!(again.status.code(), Some(2));
        assert!(
            stderr(&again).contains("already exists; pass --force"),
            "{}",
            stderr(&again)
        );
        assert_eq!(
            std::fs::read_to_string(out_dir.join("private.pem")).unwrap(),
            private
        );

        // --force replaces them, still with mode 0600.
        ok(
            &[
                "keys",
                "generate",
                "--alg",
                alg,
                "--out",
                path(&out_dir),
                "--force",
            ],
            b"",
        );
        assert_ne!(
            std::fs::read_to_string(out_dir.join("private.pem")).unwrap(),
            private
        );
        #[cfg(unix)]
        assert_eq!(mode(&out_dir.join("private.pem")), 0o600);
    }
}

#[test]
fn sign_and_verify_every_profile_and_algorithm() {
    let dir = tempfile::tempdir().unwrap();
    let p256 = generate(dir.path(), "p256", "p256");
    let p256_other = generate(dir.path(), "p256-other", "p256");
    let ed = generate(dir.path(), "ed", "ed25519");
    let ed_other = generate(dir.path(), "ed-other", "ed25519");

    let cases = [
        ("a", &p256, &p256_other, "bad_signature"),
        ("b", &p256, &p256_other, "bad_signature"),
        // Native envelopes name their key (`kid`): another key fails that check first.
        ("native", &p256, &p256_other, "bad_key"),
        ("native", &ed, &ed_other, "bad_key"),
    ];
    for (profile, key, other, wrong_key_code) in cases {
        let label = format!("{profile}/{}", key.private.display());
        let envelope = sign(profile, key, MESSAGE);
        assert_eq!(envelope.lines().count(), 1, "{label}: {envelope}");
        assert!(envelope.contains("echo"), "{label}");

        let (verdict, code) = verify(profile, &key.public, envelope.as_bytes(), &[]);
        assert_eq!((verdict.as_str(), code), ("ACCEPT", 0), "{label}");

        // One byte of the message changed.
        let tampered = envelope.replacen("echo", "echp", 1);
        assert_ne!(tampered, envelope);
        let (verdict, code) = verify(profile, &key.public, tampered.as_bytes(), &[]);
        assert_eq!(
            (verdict.as_str(), code),
            ("REJECT:bad_signature", 1),
            "{label}"
        );

        // Far in the future, and in the past.
        let (verdict, code) = verify(
            profile,
            &key.public,
            envelope.as_bytes(),
            &["--now", "4000000000"],
        );
        assert_eq!((verdict.as_str(), code), ("REJECT:expired", 1), "{label}");
        let (verdict, code) = verify(
            profile,
            &key.public,
            envelope.as_bytes(),
            &["--now", "1000000000"],
        );
        assert_eq!(
            (verdict.as_str(), code),
            ("REJECT:future_timestamp", 1),
            "{label}"
        );

        // 400 s later: outside the default 300 s window, inside a 500 s one.
        let later = (NOW + 400).to_string();
        let (verdict, _) = verify(
            profile,
            &key.public,
            envelope.as_bytes(),
            &["--now", &later],
        );
        assert_eq!(verdict, "REJECT:expired", "{label}");
        let (verdict, code) = verify(
            profile,
            &key.public,
            envelope.as_bytes(),
            &["--now", &later, "--window", "500"],
        );
        assert_eq!((verdict.as_str(), code), ("ACCEPT", 0), "{label}");

        let (verdict, code) = verify(profile, &other.public, envelope.as_bytes(), &[]);
        assert_eq!(
            (verdict, code),
            (format!("REJECT:{wrong_key_code}"), 1),
            "{label}"
        );

        let (verdict, code) = verify(profile, &key.public, b"not json", &[]);
        assert_eq!(
            (verdict.as_str(), code),
            ("REJECT:malformed_json", 1),
            "{label}"
        );
        let (verdict, _) = verify(profile, &key.public, b"", &[]);
        assert_eq!(verdict, "REJECT:malformed_json", "{label}");
    }

    // Profiles a and b are P-256 only.
    for profile in ["a", "b"] {
        let out = mcpgate(
            &[
                "sign",
                "--profile",
                profile,
                "--key",
                path(&ed.private),
                "--passport-id",
                PASSPORT_ID,
            ],
            MESSAGE.as_bytes(),
        );
        assert_eq!(out.status.code(), Some(2), "{profile}");
        assert!(stderr(&out).contains("wrong key type"), "{}", stderr(&out));
        let envelope = sign(profile, &p256, MESSAGE);
        let (verdict, code) = verify(profile, &ed.public, envelope.as_bytes(), &[]);
        assert_eq!(
            (verdict.as_str(), code),
            ("REJECT:wrong_key_type", 1),
            "{profile}"
        );
    }

    // A profile a envelope is not a profile b one.
    let envelope = sign("a", &p256, MESSAGE);
    let (verdict, code) = verify("b", &p256.public, envelope.as_bytes(), &[]);
    assert_eq!((verdict.as_str(), code), ("REJECT:malformed_envelope", 1));
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let key = generate(dir.path(), "k", "p256");
    let private_pem = std::fs::read_to_string(&key.private).unwrap();
    let private_body: Vec<&str> = private_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let cases: [(&[&str], &str); 6] = [
        (
            &["sign", "--profile", "a", "--key", path(&key.private)],
            "--passport-id",
        ),
        (
            &["sign", "--profile", "x", "--key", path(&key.private)],
            "invalid value",
        ),
        (
            &[
                "sign",
                "--profile",
                "native",
                "--key",
                path(&key.private),
                "--passport-id",
                PASSPORT_ID,
            ],
            "no passport id",
        ),
        (
            &[
                "sign",
                "--profile",
                "a",
                "--key",
                path(&key.public),
                "--passport-id",
                PASSPORT_ID,
            ],
            "does not hold a private key",
        ),
        (
            &["verify", "--profile", "a", "--pubkey", path(&key.private)],
            "holds a private key",
        ),
        (
            &[
                "verify",
                "--profile",
                "a",
                "--pubkey",
                "/nonexistent/key.pem",
            ],
            "cannot read the key file",
        ),
    ];
    for (args, expected) in cases {
        let out = mcpgate(args, MESSAGE.as_bytes());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stdout(&out).is_empty(), "{args:?}");
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(!stderr(&out).contains("PRIVATE KEY"));
        for body in &private_body {
            assert!(!stderr(&out).contains(body), "key material in {args:?}");
        }
    }
    // A message that is not JSON cannot be signed.
    let out = mcpgate(
        &[
            "sign",
            "--profile",
            "a",
            "--key",
            path(&key.private),
            "--passport-id",
            PASSPORT_ID,
        ],
        b"{oops",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not valid json"), "{}", stderr(&out));
}

#[test]
fn passport_create_sign_verify() {
    let dir = tempfile::tempdir().unwrap();
    let agent = generate(dir.path(), "agent", "p256");
    let authority = generate(dir.path(), "authority", "p256");
    let now = NOW.to_string();
    for (profile, version) in [("a", "1.0.0"), ("b", "1.0")] {
        let created = ok(
            &[
                "passport",
                "create",
                "--key",
                path(&agent.public),
                "--name",
                "weather-agent",
                "--profile",
                profile,
                "--expires-in",
                "30d",
                "--capabilities",
                "tools/call,resources/read",
                "--now",
                &now,
            ],
            b"",
        );
        assert!(
            created.starts_with(&format!(
                r#"{{"mcps_version": "{version}", "passport_id": "asp_"#
            )),
            "{created}"
        );
        assert!(created.contains(r#""capabilities": ["tools/call", "resources/read"]"#));
        assert!(created.contains(r#""expires_at": "2026-12-22T16:05:23.000000Z""#));
        assert!(!created.contains("signature"));

        // The same passport from the private key file.
        let from_private = ok(
            &[
                "passport",
                "create",
                "--key",
                path(&agent.private),
                "--name",
                "weather-agent",
                "--profile",
                profile,
            ],
            b"",
        );
        assert!(from_private.contains(&created[created.find("\"public_key\"").unwrap()..][..150]));

        let signed = ok(
            &[
                "passport",
                "sign",
                "--key",
                path(&authority.private),
                "--issuer",
                "example-authority",
            ],
            created.as_bytes(),
        );
        assert!(
            signed.contains(r#""issuer": "example-authority""#),
            "{signed}"
        );
        assert!(signed.contains(r#""signature": ""#));

        let check = |passport: &str, key: &Path, at: &str| {
            let out = mcpgate(
                &["passport", "verify", "--pubkey", path(key), "--now", at],
                passport.as_bytes(),
            );
            (
                stdout(&out).trim_end().to_owned(),
                out.status.code().unwrap(),
            )
        };
        assert_eq!(
            check(&signed, &authority.public, &now),
            ("ACCEPT".to_owned(), 0),
            "{profile}"
        );
        let tampered = signed.replacen("weather-agent", "weather-agenT", 1);
        assert_eq!(
            check(&tampered, &authority.public, &now),
            ("REJECT:passport_bad_signature".to_owned(), 1),
            "{profile}"
        );
        assert_eq!(
            check(&signed, &agent.public, &now),
            ("REJECT:passport_bad_signature".to_owned(), 1),
            "{profile}: wrong issuer key"
        );
        assert_eq!(
            check(&created, &authority.public, &now),
            ("REJECT:passport_unsigned".to_owned(), 1),
            "{profile}"
        );
        let after_expiry = (NOW + 31 * 86_400).to_string();
        assert_eq!(
            check(&signed, &authority.public, &after_expiry),
            ("REJECT:passport_expired".to_owned(), 1),
            "{profile}"
        );
        assert_eq!(
            check("[1, 2", &authority.public, &now),
            ("REJECT:malformed_json".to_owned(), 1)
        );
    }

    let out = mcpgate(
        &[
            "passport",
            "create",
            "--key",
            path(&agent.public),
            "--name",
            "x",
            "--profile",
            "native",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no passports"), "{}", stderr(&out));
}

#[test]
fn native_chain_links_through_prev() {
    let dir = tempfile::tempdir().unwrap();
    let key = generate(dir.path(), "k", "ed25519");
    let now = NOW.to_string();
    let out = mcpgate(
        &[
            "sign",
            "--profile",
            "native",
            "--key",
            path(&key.private),
            "--now",
            &now,
            "--prev",
            "start:session-1",
        ],
        MESSAGE.as_bytes(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let first = stdout(&out);
    assert!(first.contains(r#""prev":"start:session-1""#), "{first}");
    let link = stderr(&out)
        .lines()
        .find_map(|l| l.strip_prefix("link hash: ").map(str::to_owned))
        .unwrap_or_else(|| panic!("no link hash in {}", stderr(&out)));
    assert_eq!(link.len(), 64);
    let second = ok(
        &[
            "sign",
            "--profile",
            "native",
            "--key",
            path(&key.private),
            "--now",
            &now,
            "--prev",
            &link,
        ],
        MESSAGE.as_bytes(),
    );
    assert!(second.contains(&format!(r#""prev":"{link}""#)));
    let (verdict, _) = verify("native", &key.public, second.as_bytes(), &[]);
    assert_eq!(verdict, "ACCEPT");
}

/// Issuer chains from the command line: a root issuer in a trust store file, an intermediate
/// allowed to issue passports, an agent passport with a key-bound id issued through it; the
/// trust store verdict prints the computed level, never the claimed one.
#[test]
fn passport_chains_and_trust_store_levels() {
    let dir = tempfile::tempdir().unwrap();
    let root = generate(dir.path(), "root", "p256");
    let ca = generate(dir.path(), "ca", "p256");
    let agent = generate(dir.path(), "agent", "p256");
    let now = NOW.to_string();
    std::fs::write(
        dir.path().join("trust.toml"),
        format!(
            "[[issuers]]\nname = \"root-ta\"\npublic_key = {:?}\ntrust_level = 3\n",
            path(&root.public)
        ),
    )
    .unwrap();
    let trust = dir.path().join("trust.toml");

    let create = |key: &KeyPair, name: &str, extra: &[&str]| {
        let mut args = vec![
            "passport",
            "create",
            "--key",
            path(&key.public),
            "--name",
            name,
            "--profile",
            "b",
            "--now",
            &now,
        ];
        args.extend_from_slice(extra);
        ok(&args, b"")
    };
    let sign = |passport: &str, key: &KeyPair, issuer: &str| {
        ok(
            &[
                "passport",
                "sign",
                "--key",
                path(&key.private),
                "--issuer",
                issuer,
            ],
            passport.as_bytes(),
        )
    };
    let verdict = |passport: &str| {
        let out = mcpgate(
            &[
                "passport",
                "verify",
                "--trust-store",
                path(&trust),
                "--now",
                &now,
            ],
            passport.as_bytes(),
        );
        (stdout(&out).trim().to_owned(), out.status.code().unwrap())
    };

    let ca_passport = sign(
        &create(
            &ca,
            "ca-1",
            &[
                "--capabilities",
                "mcps:issue-passports",
                "--trust-level",
                "2",
            ],
        ),
        &root,
        "root-ta",
    );
    let ca_file = dir.path().join("ca.json");
    std::fs::write(&ca_file, &ca_passport).unwrap();
    assert_eq!(
        verdict(&ca_passport),
        ("ACCEPT trust_level=2 anchor=root-ta".to_owned(), 0)
    );

    let agent_passport = sign(
        &create(
            &agent,
            "agent",
            &[
                "--bound-id",
                "--trust-level",
                "4",
                "--chain",
                path(&ca_file),
            ],
        ),
        &ca,
        "ca-1",
    );
    assert_eq!(
        verdict(&agent_passport),
        ("ACCEPT trust_level=2 anchor=root-ta".to_owned(), 0),
        "the agent's claim of 4 is capped by the intermediate's 2"
    );
    let parsed: serde_json::Value = serde_json::from_str(&agent_passport).unwrap();
    let id = parsed["passport_id"].as_str().unwrap();
    assert!(id.starts_with("asp_") && id.len() == 36, "{id}");

    // Signed by the agent's own key instead of the intermediate's: the chain is broken.
    let broken = sign(
        &create(&agent, "agent", &["--chain", path(&ca_file)]),
        &agent,
        "ca-1",
    );
    assert_eq!(
        verdict(&broken),
        ("REJECT:passport_chain_broken".to_owned(), 1)
    );
    // Self-issued: accepted at level 0.
    let selfish = sign(
        &create(&agent, "agent", &["--trust-level", "4"]),
        &agent,
        "self",
    );
    assert_eq!(
        verdict(&selfish),
        ("ACCEPT trust_level=0 anchor=self".to_owned(), 0)
    );
    // A profile a passport has no chain.
    let out = mcpgate(
        &[
            "passport",
            "create",
            "--key",
            path(&agent.public),
            "--name",
            "a",
            "--chain",
            path(&ca_file),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--profile b"), "{}", stderr(&out));
}
