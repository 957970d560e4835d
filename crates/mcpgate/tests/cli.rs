//! The command line: exit codes, messages and outputs of the tool subcommands.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::process::{Command, Output};

fn mcpgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcpgate"))
        .args(args)
        .output()
        .unwrap()
}

fn repo(rel: &str) -> String {
    mcpgate_test::repo_path(env!("CARGO_MANIFEST_DIR"), rel)
        .display()
        .to_string()
}

#[test]
fn version_names_the_crate_version() {
    let out = mcpgate(&["--version"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.trim(),
        format!("mcpgate {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn check_config_accepts_the_examples() {
    for example in [
        "examples/quickstart.toml",
        "examples/http-upstream.toml",
        "examples/conformance.toml",
    ] {
        let out = mcpgate(&["check-config", &repo(example)]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(": ok"), "{stdout}");
        assert!(stdout.contains("upstream `"), "{stdout}");
    }
}

#[test]
fn check_config_names_file_key_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[upstreams.demo]\ntransport = \"stdio\"\ncommand = \"\"\n",
    )
    .unwrap();
    let out = mcpgate(&["check-config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml"), "{err}");
    assert!(err.contains("upstreams.demo.command"), "{err}");

    std::fs::write(&path, "[server]\nlisen = \"127.0.0.1:1\"\n").unwrap();
    let out = mcpgate(&["check-config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("lisen"), "{err}");
}

#[test]
fn config_schema_matches_the_checked_in_file() {
    let out = mcpgate(&["config-schema"]);
    assert!(out.status.success());
    let generated: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let checked_in: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo("docs/config.schema.json")).unwrap())
            .unwrap();
    assert_eq!(
        generated, checked_in,
        "docs/config.schema.json is stale: regenerate it with `mcpgate config-schema`"
    );
    assert_eq!(generated["type"], "object");
    assert!(generated["properties"]["upstreams"].is_object());
}

#[test]
fn import_mcp_servers_prints_a_config_that_checks() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("claude_desktop_config.json");
    std::fs::write(
        &json,
        r#"{"mcpServers": {
            "files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"], "env": {"DEBUG": "1"}},
            "remote api": {"url": "http://127.0.0.1:3001/mcp"}
        }}"#,
    )
    .unwrap();
    let out = mcpgate(&["import-mcp-servers", json.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let toml = String::from_utf8(out.stdout).unwrap();
    assert!(toml.contains("[upstreams.files]"), "{toml}");
    assert!(toml.contains("server-filesystem"), "{toml}");
    assert!(toml.contains("http://127.0.0.1:3001/mcp"), "{toml}");
    let cfg = dir.path().join("mcpgate.toml");
    std::fs::write(&cfg, &toml).unwrap();
    let out = mcpgate(&["check-config", cfg.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn import_rejects_a_file_without_servers() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("empty.json");
    std::fs::write(&json, r#"{"something": 1}"#).unwrap();
    let out = mcpgate(&["import-mcp-servers", json.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
}

#[test]
fn run_refuses_a_public_listen_address_without_the_dangerous_flag() {
    let out = mcpgate(&["run", "--listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("allow_non_loopback_bind"), "{err}");
}

#[test]
fn stdio_front_logs_nothing_on_stdout() {
    // End of input at once: the front starts, stops its (unstarted) upstream and exits 0,
    // and standard output stays empty (it is the protocol channel).
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        mcpgate_test::demo_upstream_toml("demo", &dir.path().join("notes"), ""),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mcpgate"))
        .args(["stdio", "--config", cfg.to_str().unwrap()])
        .env("MCPGATE_LOG", "debug")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn json_logs_are_json_lines_on_stderr() {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcpgate"))
        .args(["run", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Stop the gateway even when an assertion below fails first.
    struct KillOnDrop(u32);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.0 as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    let guard = KillOnDrop(child.id());
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut seen_listening = false;
    for line in lines.by_ref().take(20) {
        let line = line.unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(v["level"].is_string(), "{line}");
        if line.contains("listening on http://127.0.0.1:") {
            seen_listening = true;
            break;
        }
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    std::mem::forget(guard);
    assert!(seen_listening);
    assert!(status.success(), "{status}");
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    assert!(stdout.is_empty(), "{stdout}");
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn keys_hash_prints_a_hash_the_gateway_accepts_and_never_the_key() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcpgate"))
        .args(["keys", "hash"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a-long-secret-key\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let hash = text(&out.stdout).trim().to_owned();
    assert!(
        hash.starts_with("sha256$") && hash.split('$').count() == 3,
        "{hash}"
    );
    assert!(!text(&out.stdout).contains("a-long-secret-key"));
    let config = format!(
        "[upstreams.demo]\ntransport = \"stdio\"\ncommand = \"$MCPGATE\"\n[auth]\n\
         [[auth.api_keys]]\nprincipal = \"p\"\nhash = \"{hash}\"\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, config).unwrap();
    assert!(
        mcpgate(&["check-config", path.to_str().unwrap()])
            .status
            .success()
    );

    let generated = mcpgate(&["keys", "hash", "--generate"]);
    assert!(generated.status.success());
    let key_line = text(&generated.stderr);
    let key = key_line.trim().rsplit(' ').next().unwrap();
    assert!(key.starts_with("mgk_") && key.len() > 40, "{key_line}");
    assert!(!text(&generated.stdout).contains(key));
}

#[test]
fn policy_check_lists_ids_or_points_at_the_problem() {
    let ok = mcpgate(&["policy", "check", &repo("examples/policies")]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let out = text(&ok.stdout);
    assert!(out.starts_with("ok: 8 policies"), "{out}");
    assert!(out.contains("bob-reads-own-notes"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.cedar");
    std::fs::write(
        &bad,
        "// a comment\npermit (\n    principal,\n    action == Mcp::Action::\"call_tool\"\n    resource\n);\n",
    )
    .unwrap();
    let out = mcpgate(&["policy", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("bad.cedar:5:5"), "{err}");

    let unknown = dir.path().join("unknown.cedar");
    std::fs::write(
        &unknown,
        "permit (principal, action == Mcp::Action::\"fly\", resource);\n",
    )
    .unwrap();
    let out = mcpgate(&["policy", "check", unknown.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("unknown.cedar:1:"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn policy_test_prints_the_decision_and_the_deciding_policies() {
    let config = repo("examples/auth.toml");
    let run = |principal: &str, tool: &str, args: &str| {
        mcpgate(&[
            "policy",
            "test",
            "--config",
            &config,
            "--principal",
            principal,
            "--action",
            "call_tool",
            "--tool",
            tool,
            "--args",
            args,
        ])
    };
    let allow = run("bob", "read_note", r#"{"path":"notes/bob/todo"}"#);
    assert_eq!(allow.status.code(), Some(0), "{}", text(&allow.stderr));
    assert_eq!(
        text(&allow.stdout),
        "ALLOW\n  determined by: bob-reads-own-notes\n"
    );
    let deny = run("bob", "read_note", r#"{"path":"notes/alice/x"}"#);
    assert_eq!(deny.status.code(), Some(1));
    assert_eq!(
        text(&deny.stdout),
        "DENY\n  determined by: no policy applies (default deny)\n"
    );
    let forbid = run("alice", "read_note", r#"{"path":"notes/../../etc/passwd"}"#);
    assert_eq!(forbid.status.code(), Some(1));
    assert!(text(&forbid.stdout).contains("no-parent-paths"));
    let alice = run(
        "alice",
        "write_note",
        r#"{"path":"notes/alice/y","content":"z"}"#,
    );
    assert_eq!(alice.status.code(), Some(0));
    let usage = mcpgate(&[
        "policy",
        "test",
        "--config",
        &config,
        "--principal",
        "bob",
        "--action",
        "fly",
        "--tool",
        "echo",
    ]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(text(&usage.stderr).contains("not an action"));
}
