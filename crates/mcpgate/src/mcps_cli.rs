//! The MCPS commands: signing keys, agent passports, and signing and verifying MCPS envelopes
//! with the `mcps` crate.
//!
//! | Command | Input | Output |
//! |---|---|---|
//! | `keys generate --alg ed25519\|p256 --out DIR [--force]` | — | `DIR/private.pem` (PKCS#8, mode 0600), `DIR/public.pem` (SPKI); key id and did:key on stdout |
//! | `passport create --key PEM --name NAME [--profile a\|b] [--bound-id] [--chain ISSUER.json…]` | — | unsigned passport JSON |
//! | `passport sign --key ISSUER_PRIVATE.pem [--issuer NAME]` | passport JSON | signed passport JSON |
//! | `passport verify --pubkey ISSUER_PUBLIC.pem [--now UNIX]` | passport JSON | `ACCEPT` / `REJECT:<code>` |
//! | `passport verify --trust-store FILE [--now UNIX]` | passport JSON | `ACCEPT trust_level=N anchor=NAME` / `REJECT:<code>` |
//! | `sign --profile a\|b\|native --key KEY.pem [--passport-id ID] [--now UNIX]` | JSON-RPC message | envelope JSON |
//! | `verify --profile a\|b\|native --pubkey KEY.pem [--now UNIX] [--window SECONDS]` | envelope | `ACCEPT` / `REJECT:<code>` |
//!
//! Verdicts are one line on stdout; `<code>` is the `mcps` crate's stable reject code (for
//! example `bad_signature`, `expired`, `malformed_json`) and the exit status is 0 for `ACCEPT`
//! and 1 for `REJECT`, with a short reason on stderr. Input that is not JSON is a `REJECT` too.
//! Usage and runtime errors (unreadable key, existing key file, a message that cannot be signed)
//! exit with 2. The verifier checks one envelope: it keeps no replay cache between runs.
//!
//! Private key material is only ever written to `private.pem`; it is never printed.

use std::fs;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use mcps::canonical::{self, ParseOptions};
use mcps::keys::{Algorithm, SigningKey, VerifyingKey};
use mcps::native::{self, Link};
use mcps::passport::{DEFAULT_TTL, NewPassport, Passport, PassportLimits, bound_passport_id};
use mcps::profile_a::{self, Nonce, VerifyOptions};
use mcps::time::Timestamp;
use mcps::trust::chain_entry;
use mcps::{Profile, RejectCode, did, profile_b};

/// Largest input read from stdin.
const MAX_INPUT: u64 = 16 << 20;

/// The MCPS commands, flattened into the top-level command list.
#[derive(Debug, Subcommand)]
pub(crate) enum McpsCommand {
    /// Generate signing keys, and hash API keys for the configuration.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Create, sign and verify MCPS agent passports (profiles a and b).
    Passport {
        #[command(subcommand)]
        command: PassportCommand,
    },
    /// Sign a JSON-RPC message read from stdin; prints the MCPS envelope.
    Sign(SignArgs),
    /// Verify an MCPS envelope read from stdin; prints ACCEPT (exit 0) or REJECT:<code> (exit 1).
    Verify(VerifyArgs),
}

/// `keys` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Generate a key pair: DIR/private.pem (PKCS#8, mode 0600) and DIR/public.pem (SPKI).
    Generate {
        /// Key algorithm (profiles a and b need p256; native takes either).
        #[arg(long, value_enum)]
        alg: AlgArg,
        /// Directory for the key files; created when missing.
        #[arg(long)]
        out: PathBuf,
        /// Replace existing key files.
        #[arg(long)]
        force: bool,
    },
    /// Hash an API key (read from standard input) for `[[auth.api_keys]] hash`; prints only
    /// the hash, never the key.
    Hash {
        /// Generate a new random key instead: it is printed once on standard error, its hash
        /// on standard output.
        #[arg(long)]
        generate: bool,
    },
}

/// `passport` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum PassportCommand {
    /// Create an unsigned passport for the key's holder; prints the passport JSON.
    Create {
        /// The agent's key: a public key (SPKI PEM) or its private key (PKCS#8 or SEC1 PEM).
        #[arg(long)]
        key: PathBuf,
        /// Agent name.
        #[arg(long)]
        name: String,
        /// Passport format (the native profile has none: it names keys by thumbprint).
        #[arg(long, value_enum, default_value = "a")]
        profile: ProfileArg,
        /// Lifetime, for example 30d or 12h.
        #[arg(long, value_parser = humantime::parse_duration)]
        expires_in: Option<Duration>,
        /// Capabilities, comma separated.
        #[arg(long, value_delimiter = ',')]
        capabilities: Vec<String>,
        /// Issuer name written into the passport.
        #[arg(long, default_value = "self")]
        issuer: String,
        /// Agent version.
        #[arg(long, default_value = "1.0.0")]
        agent_version: String,
        /// Origin (URI of the server the agent is for; profile b only).
        #[arg(long)]
        origin: Option<String>,
        /// Issue time as Unix seconds (default: now).
        #[arg(long, value_parser = parse_unix)]
        now: Option<Timestamp>,
        /// Derive the passport id from the key instead of drawing it at random.
        #[arg(long)]
        bound_id: bool,
        /// The trust level claimed (0 to 4); verifiers only ever lower their computed level to
        /// it. Default: the reference's rule.
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=4))]
        trust_level: Option<u8>,
        /// Issuer passports vouching for this one, nearest issuer first (profile b
        /// `issuer_chain`); repeat for each.
        #[arg(long = "chain", value_name = "PASSPORT_FILE")]
        chain: Vec<PathBuf>,
    },
    /// Sign the passport read from stdin with the issuer's private key; prints it.
    Sign {
        /// The issuer's private key (PKCS#8 or SEC1 PEM).
        #[arg(long)]
        key: PathBuf,
        /// Set the passport's issuer before signing.
        #[arg(long)]
        issuer: Option<String>,
    },
    /// Verify the passport read from stdin: prints ACCEPT (exit 0) or REJECT:<code> (exit 1).
    ///
    /// With --trust-store, the passport is verified against the store's issuers (directly or
    /// through its issuer chain) and the computed trust level is printed after ACCEPT.
    Verify {
        /// The issuer's public key (SPKI PEM).
        #[arg(
            long,
            required_unless_present = "trust_store",
            conflicts_with = "trust_store"
        )]
        pubkey: Option<PathBuf>,
        /// A gateway trust store file whose `[[issuers]]` decide.
        #[arg(long)]
        trust_store: Option<PathBuf>,
        /// Verification time as Unix seconds (default: now).
        #[arg(long, value_parser = parse_unix)]
        now: Option<Timestamp>,
    },
}

/// Arguments of `sign`.
#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// Envelope format.
    #[arg(long, value_enum)]
    profile: ProfileArg,
    /// The signer's private key (PKCS#8 or SEC1 PEM).
    #[arg(long)]
    key: PathBuf,
    /// Passport id (asp_…) the envelope is signed for (profiles a and b).
    #[arg(long)]
    passport_id: Option<String>,
    /// Signing time as Unix seconds (default: now).
    #[arg(long, value_parser = parse_unix)]
    now: Option<Timestamp>,
    /// Channel binding token to sign with (profile b).
    #[arg(long)]
    channel_binding: Option<String>,
    /// Chain link (native): `start:<chain id>` or the previous envelope's link hash (default:
    /// a new random chain).
    #[arg(long)]
    prev: Option<String>,
}

/// Arguments of `verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Envelope format.
    #[arg(long, value_enum)]
    profile: ProfileArg,
    /// The signer's public key (SPKI PEM).
    #[arg(long)]
    pubkey: PathBuf,
    /// Verification time as Unix seconds (default: now).
    #[arg(long, value_parser = parse_unix)]
    now: Option<Timestamp>,
    /// Accepted clock difference in seconds, past and future (default 300).
    #[arg(long)]
    window: Option<u64>,
    /// Channel binding token the envelope must be bound to (profile b).
    #[arg(long)]
    channel_binding: Option<String>,
}

/// An MCPS profile on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProfileArg {
    /// `mcp-secure` 1.0.0: flat envelope, DER signature (P-256 keys).
    A,
    /// `mcps-secure` 1.0.0: nested `mcps` header, P1363 signature (P-256 keys).
    B,
    /// `mcps-native/1`: every field signed, RFC 8785 (Ed25519 or P-256 keys).
    Native,
}

/// A key algorithm on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AlgArg {
    /// Ed25519.
    Ed25519,
    /// ECDSA P-256.
    P256,
}

impl AlgArg {
    fn algorithm(self) -> Algorithm {
        match self {
            Self::Ed25519 => Algorithm::Ed25519,
            Self::P256 => Algorithm::EcdsaP256,
        }
    }
}

/// Runs one MCPS command.
pub(crate) fn run(command: McpsCommand) -> anyhow::Result<ExitCode> {
    match command {
        McpsCommand::Keys {
            command: KeysCommand::Generate { alg, out, force },
        } => keys_generate(alg, &out, force),
        McpsCommand::Keys {
            command: KeysCommand::Hash { generate },
        } => crate::policy_cli::hash_key(generate),
        McpsCommand::Passport { command } => match command {
            PassportCommand::Create {
                key,
                name,
                profile,
                expires_in,
                capabilities,
                issuer,
                agent_version,
                origin,
                now,
                bound_id,
                trust_level,
                chain,
            } => {
                let profile = match profile {
                    ProfileArg::A => Profile::A,
                    ProfileArg::B => Profile::B,
                    ProfileArg::Native => bail!(
                        "the native profile has no passports (its envelopes name the signing key \
                         by its thumbprint); use --profile a or b"
                    ),
                };
                let public = read_any_key(&key)?;
                let mut new = NewPassport::new(name, public, now.unwrap_or_else(Timestamp::now));
                new.capabilities = capabilities;
                new.issuer = issuer;
                new.version = agent_version;
                new.origin = origin;
                new.ttl = expires_in.unwrap_or(DEFAULT_TTL);
                new.trust_level = trust_level;
                if bound_id {
                    new.passport_id = Some(bound_passport_id(&new.public_key));
                }
                if !chain.is_empty() && profile != Profile::B {
                    bail!("only profile b passports carry an issuer chain; add --profile b");
                }
                let mut passport =
                    Passport::create_for(profile, new).context("cannot create the passport")?;
                if !chain.is_empty() {
                    let entries = chain
                        .iter()
                        .map(|path| {
                            let bytes = fs::read(path).with_context(|| {
                                format!("cannot read the issuer passport `{}`", path.display())
                            })?;
                            let issuer = canonical::parse_bytes(&bytes, &ParseOptions::STRICT)
                                .and_then(Passport::from_value)
                                .with_context(|| {
                                    format!("`{}` is not a passport", path.display())
                                })?;
                            Ok(chain_entry(&issuer)?)
                        })
                        .collect::<anyhow::Result<Vec<_>>>()?;
                    passport.set_issuer_chain(entries)?;
                }
                print_line(&passport.to_json()?)?;
                Ok(ExitCode::SUCCESS)
            }
            PassportCommand::Sign { key, issuer } => {
                let key = read_signing_key(&key)?;
                let input = read_stdin()?;
                let mut passport = canonical::parse_bytes(&input, &ParseOptions::STRICT)
                    .and_then(Passport::from_value)
                    .context("the passport on stdin is not valid")?;
                if let Some(issuer) = issuer {
                    passport.set_issuer(&issuer)?;
                }
                passport
                    .sign(&key)
                    .context("cannot sign the passport with this key")?;
                print_line(&passport.to_json()?)?;
                Ok(ExitCode::SUCCESS)
            }
            PassportCommand::Verify {
                pubkey,
                trust_store,
                now,
            } => {
                let now = now.unwrap_or_else(Timestamp::now);
                if let Some(path) = trust_store {
                    let store = crate::trust_store::read(&path)?;
                    let dids = crate::runtime()?.block_on(store.resolve_dids())?;
                    let issuers = store.issuers(&dids)?;
                    let Some(input) = read_stdin_for_verdict()? else {
                        return oversized();
                    };
                    let verdict = crate::trust_store::verify_passport(
                        &input,
                        &issuers,
                        now,
                        &store.chain_options(),
                    );
                    return Ok(match verdict {
                        Ok(trusted) => {
                            print_line(&format!(
                                "ACCEPT trust_level={} anchor={}",
                                trusted.trust_level,
                                trusted.anchor.as_deref().unwrap_or("self")
                            ))?;
                            ExitCode::SUCCESS
                        }
                        Err(error) => verdict_exit(Err(error))?,
                    });
                }
                let Some(pubkey) = pubkey else {
                    bail!("pass --pubkey ISSUER_PUBLIC.pem or --trust-store FILE");
                };
                let key = read_public_key(&pubkey)?;
                let Some(input) = read_stdin_for_verdict()? else {
                    return oversized();
                };
                let verdict = canonical::parse_bytes(&input, &ParseOptions::STRICT)
                    .and_then(Passport::from_value)
                    .and_then(|passport| passport.verify(&key, now, &PassportLimits::default()));
                verdict_exit(verdict.map(|_| ()))
            }
        },
        McpsCommand::Sign(args) => sign(args),
        McpsCommand::Verify(args) => verify(&args),
    }
}

fn keys_generate(alg: AlgArg, out: &Path, force: bool) -> anyhow::Result<ExitCode> {
    let private_path = out.join("private.pem");
    let public_path = out.join("public.pem");
    if !force {
        for path in [&private_path, &public_path] {
            if fs::symlink_metadata(path).is_ok() {
                bail!(
                    "{} already exists; pass --force to replace it",
                    path.display()
                );
            }
        }
    }
    let key = SigningKey::generate(alg.algorithm())?;
    let public = key.verifying_key();
    let private_pem = key.to_pkcs8_pem()?;
    let public_pem = public.to_spki_pem()?;
    create_dir(out)?;
    write_new_file(&private_path, private_pem.as_bytes(), 0o600)?;
    write_new_file(&public_path, public_pem.as_bytes(), 0o644)?;
    let alg_name = match alg {
        AlgArg::Ed25519 => "ed25519",
        AlgArg::P256 => "p256",
    };
    print_line(&format!(
        "algorithm: {alg_name}\nkid: {}\ndid: {}\nprivate key: {}\npublic key: {}",
        public.to_jwk().thumbprint(),
        did::to_did_key(&public),
        private_path.display(),
        public_path.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn create_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create the directory {}", dir.display()))
}

/// Writes `bytes` to a newly created file with permissions `mode`, replacing (not following)
/// whatever was at `path`.
fn write_new_file(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot replace {}", path.display())),
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    // The umask may have removed bits; set the mode exactly.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set the permissions of {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn read_key_file(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read the key file {}", path.display()))
}

fn read_signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    let pem = read_key_file(path)?;
    if !pem.contains("PRIVATE KEY-----") {
        bail!(
            "{} does not hold a private key (expected a PKCS#8 or SEC1 PEM private key, such as \
             the private.pem of `mcpgate keys generate`)",
            path.display()
        );
    }
    SigningKey::from_pem(&pem).with_context(|| format!("cannot use the key in {}", path.display()))
}

fn read_public_key(path: &Path) -> anyhow::Result<VerifyingKey> {
    let pem = read_key_file(path)?;
    if pem.contains("PRIVATE KEY-----") {
        bail!(
            "{} holds a private key; pass the public key (public.pem) instead",
            path.display()
        );
    }
    VerifyingKey::from_spki_pem(&pem)
        .with_context(|| format!("cannot use the public key in {}", path.display()))
}

/// A public key, or the public half of a private key.
fn read_any_key(path: &Path) -> anyhow::Result<VerifyingKey> {
    let pem = read_key_file(path)?;
    if pem.contains("PRIVATE KEY-----") {
        Ok(read_signing_key(path)?.verifying_key())
    } else {
        read_public_key(path)
    }
}

/// `--now`: Unix seconds, optionally with up to six fraction digits.
fn parse_unix(text: &str) -> Result<Timestamp, String> {
    const USAGE: &str = "expected unix seconds such as 1795363523 or 1795363523.25";
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = whole.strip_prefix('-').unwrap_or(whole);
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || fraction.len() > 6
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || (text.contains('.') && fraction.is_empty())
    {
        return Err(USAGE.to_owned());
    }
    let seconds: i64 = whole.parse().map_err(|_| USAGE.to_owned())?;
    let mut micros: i64 = 0;
    for (index, digit) in fraction.bytes().enumerate() {
        let place = 10_i64.pow(5 - u32::try_from(index).map_err(|_| USAGE.to_owned())?);
        micros += i64::from(digit - b'0') * place;
    }
    if seconds < 0 {
        micros = -micros;
    }
    seconds
        .checked_mul(1_000_000)
        .and_then(|s| s.checked_add(micros))
        .map(Timestamp::from_unix_micros)
        .ok_or_else(|| "time out of range".to_owned())
}

fn read_stdin_limited() -> io::Result<Option<Vec<u8>>> {
    let mut input = Vec::new();
    io::stdin()
        .lock()
        .take(MAX_INPUT + 1)
        .read_to_end(&mut input)?;
    Ok((u64::try_from(input.len()).unwrap_or(u64::MAX) <= MAX_INPUT).then_some(input))
}

fn read_stdin() -> anyhow::Result<Vec<u8>> {
    read_stdin_limited()
        .context("cannot read stdin")?
        .with_context(|| format!("stdin is larger than {MAX_INPUT} bytes"))
}

/// Stdin for a verifier: `None` when it is larger than [`MAX_INPUT`], which is a verdict
/// ([`oversized`]), not a usage error.
fn read_stdin_for_verdict() -> anyhow::Result<Option<Vec<u8>>> {
    read_stdin_limited().context("cannot read stdin")
}

/// The verdict for oversized input: `REJECT:too_large`.
fn oversized() -> anyhow::Result<ExitCode> {
    print_line(&RejectCode::TooLarge.to_string())?;
    eprintln!("mcpgate: the input is larger than {MAX_INPUT} bytes");
    Ok(ExitCode::from(1))
}

fn print_line(text: &str) -> anyhow::Result<()> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .context("cannot write to stdout")
}

/// Prints `ACCEPT` or `REJECT:<code>` (with the reason on stderr) and picks the exit status.
fn verdict_exit(verdict: Result<(), mcps::Error>) -> anyhow::Result<ExitCode> {
    match verdict {
        Ok(()) => {
            print_line("ACCEPT")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            let code: RejectCode = error.reject_code();
            print_line(&code.to_string())?;
            eprintln!("mcpgate: {error}");
            Ok(ExitCode::from(1))
        }
    }
}

fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let SignArgs {
        profile,
        key,
        passport_id,
        now,
        channel_binding,
        prev,
    } = args;
    if channel_binding.is_some() && profile != ProfileArg::B {
        bail!("--channel-binding applies to profile b only");
    }
    if prev.is_some() && profile != ProfileArg::Native {
        bail!("--prev applies to the native profile only");
    }
    let passport_id = match (profile, passport_id) {
        (ProfileArg::Native, Some(_)) => bail!(
            "native envelopes carry no passport id (they name the key by its thumbprint); drop \
             --passport-id"
        ),
        (ProfileArg::Native, None) => String::new(),
        (_, Some(id)) => id,
        (_, None) => bail!("profiles a and b need --passport-id asp_…"),
    };
    let key = read_signing_key(&key)?;
    let input = read_stdin()?;
    let message = canonical::parse_bytes(&input, &ParseOptions::STRICT)
        .context("the message on stdin is not valid json")?;
    let now = now.unwrap_or_else(Timestamp::now);
    let nonce = Nonce::random()?;
    let wire = match profile {
        ProfileArg::A => profile_a::sign(&message, &passport_id, &key, now, nonce)
            .context("cannot sign the message as profile a")?
            .to_json()?,
        ProfileArg::B => profile_b::sign(
            &message,
            &passport_id,
            &key,
            now,
            nonce,
            channel_binding.as_deref(),
        )
        .context("cannot sign the message as profile b")?
        .to_json()?,
        ProfileArg::Native => {
            let link = match prev {
                Some(prev) => Link::parse(&prev).context(
                    "--prev must be `start:<chain id>` or a 64-digit lowercase hex link hash",
                )?,
                None => Link::random_start()?,
            };
            let envelope = native::sign(&message, &key, now, &nonce, &link)
                .context("cannot sign the message as a native envelope")?;
            eprintln!("link hash: {}", envelope.link_hash());
            envelope.to_json()?
        }
    };
    print_line(&wire)?;
    Ok(ExitCode::SUCCESS)
}

fn verify(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    if args.channel_binding.is_some() && args.profile != ProfileArg::B {
        bail!("--channel-binding applies to profile b only");
    }
    let key = read_public_key(&args.pubkey)?;
    let mut options = VerifyOptions::at(args.now.unwrap_or_else(Timestamp::now));
    if let Some(window) = args.window {
        options.max_age = Duration::from_secs(window);
        options.max_future = Duration::from_secs(window);
    }
    let Some(wire) = read_stdin_for_verdict()? else {
        return oversized();
    };
    let verdict = match args.profile {
        ProfileArg::A => profile_a::verify(&wire, &key, &options).map(|_| ()),
        ProfileArg::B => {
            profile_b::verify(&wire, &key, &options, args.channel_binding.as_deref()).map(|_| ())
        }
        ProfileArg::Native => native::verify(&wire, &key, &options).map(|_| ()),
    };
    verdict_exit(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times() {
        assert_eq!(parse_unix("0").unwrap(), Timestamp::from_unix_micros(0));
        assert_eq!(
            parse_unix("1795363523.25").unwrap(),
            Timestamp::from_unix_micros(1_795_363_523_250_000)
        );
        assert_eq!(
            parse_unix("-1.5").unwrap(),
            Timestamp::from_unix_micros(-1_500_000)
        );
        for bad in [
            "",
            "x",
            "1.",
            ".5",
            "1.1234567",
            "1e9",
            "--1",
            "99999999999999999999",
        ] {
            assert!(parse_unix(bad).is_err(), "{bad}");
        }
    }
}
