//! Shared scaffolding of the reference interop tests (`interop_mcp_secure.rs` for profile A,
//! `interop_mcps_secure.rs` for profile B): a pinned reference installed into a virtual
//! environment of its own, child processes under a time limit, and the messages this crate signs.
//!
//! Each reference lives in `${MCPGATE_CACHE:-$HOME/.cache/mcpgate}/<venv>`, outside the
//! repository, and is reused when that environment already holds the pinned version. A failure to
//! create the environment or install the package fails the test; it is never skipped.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mcps::Profile;
use mcps::canonical::{self, ParseOptions, Value};

const VENV_TIMEOUT: Duration = Duration::from_secs(180);
const PIP_TIMEOUT: Duration = Duration::from_secs(600);
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// A pinned reference implementation and the script that drives it.
pub(crate) struct Reference {
    /// The PyPI distribution name. Both references import as `mcp_secure`.
    pub(crate) package: &'static str,
    /// The pinned version.
    pub(crate) version: &'static str,
    /// The directory of its virtual environment, inside the cache directory.
    pub(crate) venv: &'static str,
    /// The interop script, an absolute path.
    pub(crate) script: &'static str,
}

impl Reference {
    /// A fresh scratch directory for one run, `interop-<package>-<pid>-<nanos>` under the target's
    /// temporary directory.
    pub(crate) fn scratch_dir(&self) -> PathBuf {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "interop-{}-{}-{nanos}",
            self.package,
            std::process::id()
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn venv_dir(&self) -> PathBuf {
        let cache = match std::env::var_os("MCPGATE_CACHE") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => {
                let home = std::env::var_os("HOME").expect("HOME or MCPGATE_CACHE must be set");
                PathBuf::from(home).join(".cache").join("mcpgate")
            }
        };
        cache.join(self.venv)
    }

    /// The installed version of the package, if the environment has a working one.
    fn installed_version(&self, python: &Path, scratch: &Path) -> Option<String> {
        if !python.exists() {
            return None;
        }
        let mut command = Command::new(python);
        command.args([
            "-c",
            &format!(
                "import importlib.metadata as m, mcp_secure; print(m.version('{}'))",
                self.package
            ),
        ]);
        let output = run(command, scratch, "probe", SCRIPT_TIMEOUT);
        output
            .status
            .success()
            .then(|| output.stdout.trim().to_owned())
    }

    /// Creates (or reuses) the virtual environment holding the pinned reference; returns its
    /// python.
    pub(crate) fn python(&self, scratch: &Path) -> PathBuf {
        let (package, version) = (self.package, self.version);
        let venv = self.venv_dir();
        let python = venv.join("bin").join("python");
        if self.installed_version(&python, scratch).as_deref() == Some(version) {
            return python;
        }
        fs::create_dir_all(venv.parent().unwrap()).unwrap();
        let mut command = Command::new("python3");
        command.arg("-m").arg("venv").arg("--clear").arg(&venv);
        let output = run(command, scratch, "venv", VENV_TIMEOUT);
        assert!(
            output.status.success(),
            "creating the virtual environment {} failed ({}):\n{}",
            venv.display(),
            output.status,
            output.stderr
        );
        let mut command = Command::new(&python);
        command.args([
            "-m",
            "pip",
            "install",
            "--no-input",
            &format!("{package}=={version}"),
        ]);
        let output = run(command, scratch, "pip", PIP_TIMEOUT);
        assert!(
            output.status.success(),
            "`pip install {package}=={version}` failed ({}):\n{}\n{}",
            output.status,
            output.stdout,
            output.stderr
        );
        let installed = self.installed_version(&python, scratch);
        assert_eq!(
            installed.as_deref(),
            Some(version),
            "{package} is not importable at the pinned version after installing"
        );
        python
    }

    /// Runs the interop script in `mode` (`sign` or `verify`) on `dir`; returns its stdout.
    pub(crate) fn run_script(
        &self,
        python: &Path,
        scratch: &Path,
        mode: &str,
        dir: &Path,
    ) -> String {
        let mut command = Command::new(python);
        command.arg(self.script).arg(mode).arg(dir);
        let output = run(command, scratch, mode, SCRIPT_TIMEOUT);
        assert!(
            output.status.success(),
            "interop script `{mode}` failed ({}):\n{}",
            output.status,
            output.stderr
        );
        output.stdout
    }
}

struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `command` to completion or kills it after `timeout`. Output goes through files in
/// `scratch`, so a chatty child can never block on a full pipe.
fn run(mut command: Command, scratch: &Path, label: &str, timeout: Duration) -> Output {
    let out_path = scratch.join(format!("{label}.stdout"));
    let err_path = scratch.join(format!("{label}.stderr"));
    command
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("{label}: cannot start {command:?}: {e}"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{label}: {command:?} did not finish within {timeout:?}; stderr:\n{}",
                fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: fs::read_to_string(&out_path).unwrap(),
        stderr: fs::read_to_string(&err_path).unwrap(),
    }
}

pub(crate) fn parse(text: &str) -> Value {
    canonical::parse(text, &ParseOptions::STRICT)
        .unwrap_or_else(|e| panic!("cannot parse {text:?}: {e}"))
}

pub(crate) fn field<'a>(value: &'a Value, key: &str) -> &'a Value {
    value
        .get(key)
        .unwrap_or_else(|| panic!("missing `{key}` in {value:?}"))
}

pub(crate) fn read_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Messages this crate signs for the reference of `profile` to verify.
///
/// Four entries differ by profile. Profile B spreads the message's members next to its header,
/// so its last message is an object where profile A's is a batch; its list also adds more control
/// escapes, floats at the 2^53 boundary and keys whose UTF-16 and code-point orders differ.
pub(crate) fn rust_messages(profile: Profile) -> Vec<Value> {
    let long = "x".repeat(2000);
    let many: Vec<String> = (0..64).map(|i| (i * 7919).to_string()).collect();
    let texts = [
        r#"{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}}}"#.to_owned(),
        r#"{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "héllo wörld ☃ 😀"}}}"#.to_owned(),
        r#"{"jsonrpc": "2.0", "id": 3, "result": {"text": "\u00e9\ud83d\ude00\u65e5\u672c"}}"#.to_owned(),
        match profile {
            Profile::A => r#"{"jsonrpc": "2.0", "id": 4, "result": {"text": "nul\u0000 us\u001f nl\n tab\t quote\" back\\ ls\u2028 del\u007f slash\/"}}"#,
            Profile::B => r#"{"jsonrpc": "2.0", "id": 4, "result": {"text": "nul\u0000 us\u001f nl\n tab\t quote\" back\\ ls\u2028 del\u007f slash\/ bs\b ff\f cr\r"}}"#,
        }.to_owned(),
        r#"{"jsonrpc": "2.0", "id": 5, "params": {"big": 123456789012345678901234567890, "neg": -99999999999999999999999}}"#.to_owned(),
        r#"{"jsonrpc": "2.0", "id": 6, "params": {"max": 9223372036854775807, "min": -9223372036854775808, "u64": 18446744073709551616}}"#.to_owned(),
        r#"{"jsonrpc": "2.0", "id": 7, "params": {"floats": [0.1, 0.2, 1e300, 1E-300, 5e-324, 1.7976931348623157e308, -0.0, 2.5, 100.0, 1e16, 1e15, 123456.789]}}"#.to_owned(),
        match profile {
            Profile::A => r#"{"jsonrpc": "2.0", "id": 8, "params": {"forms": [1.0e2, 12e-1, 0.000001, 0.0000001, 1.5E+3, 3.141592653589793, 2.718281828459045e-10]}}"#,
            Profile::B => r#"{"jsonrpc": "2.0", "id": 8, "params": {"forms": [1.0e2, 12e-1, 0.000001, 0.0000001, 1.5E+3, 3.141592653589793, 2.718281828459045e-10, 9007199254740992.0, 9007199254740991.0, 9007199254740993, 1e21, 1e22]}}"#,
        }.to_owned(),
        r#"{"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": [1, [2, [3, [4]]]]}}}}}}}}}}"#.to_owned(),
        r#"{"z": 1, "a": 2, "m": {"y": [], "b": {}, "a": ""}, "A": null}"#.to_owned(),
        match profile {
            Profile::A => r#"{"ключ": "значение", "日本": "語", "😀": true, "é": "e\u0301"}"#,
            Profile::B => r#"{"ключ": "значение", "日本": "語", "😀": true, "！": false, "\uffff": 1, "é": "e\u0301"}"#,
        }.to_owned(),
        r#"{"jsonrpc": "2.0", "id": 12, "result": [null, true, false, 0, -1, "", [], {}]}"#.to_owned(),
        r#"{"jsonrpc": "2.0", "id": 13, "error": {"code": -32601, "message": "Method not found", "data": null}}"#.to_owned(),
        r#"{"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": "t-1", "progress": 0.75, "total": 1.0}}"#.to_owned(),
        format!(r#"{{"jsonrpc": "2.0", "id": 15, "result": {{"text": "{long}"}}}}"#),
        r#"{"jsonrpc": "2.0", "id": "req/16</script>&<>'", "method": "ping"}"#.to_owned(),
        r#"{"jsonrpc": "2.0", "id": 17, "result": {"content": [{"type": "text", "text": "{\"inner\": [1, 2.5, \"x\"]}"}], "isError": false}}"#.to_owned(),
        format!(r#"{{"jsonrpc": "2.0", "id": 18, "result": [{}]}}"#, many.join(", ")),
        r#"{"jsonrpc": "2.0", "id": 19, "params": {"ints": [0, -0, -1, 1, 255, 65536, 4294967296], "tiny": [1e-5, 1e-4, 0.001]}}"#.to_owned(),
        match profile {
            Profile::A => r#"[{"jsonrpc": "2.0", "id": 20, "method": "tools/list"}, {"jsonrpc": "2.0", "id": 21, "method": "resources/list"}]"#,
            Profile::B => r#"{"jsonrpc": "2.0", "method": "notifications/initialized"}"#,
        }.to_owned(),
    ];
    texts.iter().map(|t| parse(t)).collect()
}
