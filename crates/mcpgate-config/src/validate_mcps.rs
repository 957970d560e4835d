//! Validation of the `[mcps]` section.

use std::time::Duration;

use crate::error::{ConfigError, KeyPath};
use crate::mcps::{
    McpsConfig, McpsProfile, McpsRequirement, ReplayConfig, RevocationAuthorityConfig,
};
use crate::model::Config;
use crate::raw_mcps::{RawMcps, RawMcpsProfile, RawMcpsRequire, RawReplayKind};
use crate::validate::Checker;

const DEFAULT_WINDOW: Duration = Duration::from_secs(300);
const MAX_WINDOW: Duration = Duration::from_secs(3600);
const DEFAULT_REPLAY_CAPACITY: usize = 100_000;
const DEFAULT_REPLAY_PREFIX: &str = "mcpgate:replay";
const DEFAULT_REVOCATION_RELOAD: Duration = Duration::from_secs(2);
const DEFAULT_REVOCATION_TTL: Duration = Duration::from_secs(60);
const MAX_TRUST_LEVEL: usize = 4;

impl Checker<'_> {
    pub(crate) fn mcps(&self, raw: Option<RawMcps>) -> Result<Option<McpsConfig>, ConfigError> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        let key = KeyPath::root("mcps");
        let profiles = match raw.profiles.clone() {
            None => vec![McpsProfile::A, McpsProfile::B, McpsProfile::Native],
            Some(list) => {
                if list.is_empty() {
                    return Err(self.error(
                        &key.child("profiles"),
                        "must name at least one of `a`, `b`, `native`",
                    ));
                }
                let mut profiles = Vec::new();
                for profile in list {
                    let profile = match profile {
                        RawMcpsProfile::A => McpsProfile::A,
                        RawMcpsProfile::B => McpsProfile::B,
                        RawMcpsProfile::Native => McpsProfile::Native,
                    };
                    if !profiles.contains(&profile) {
                        profiles.push(profile);
                    }
                }
                profiles
            }
        };
        let trust_store = raw.trust_store.as_deref().ok_or_else(|| {
            self.error(
                &key.child("trust_store"),
                "is required: a TOML file of trusted signers (`[[signers]]`)",
            )
        })?;
        let trust_store = self.path(&key.child("trust_store"), trust_store)?;
        let window = self
            .duration(&key.child("window"), raw.window.as_deref(), false)?
            .unwrap_or(DEFAULT_WINDOW);
        if window > MAX_WINDOW {
            return Err(self.error(
                &key.child("window"),
                "must be at most `1h`: a longer window keeps replayable messages alive",
            ));
        }
        let replay = self.replay(&key, &raw)?;
        let revocation_list = match &raw.revocation_list {
            Some(path) => Some(self.path(&key.child("revocation_list"), path)?),
            None => None,
        };
        let revocation_reload_interval = self
            .duration(
                &key.child("revocation_reload_interval"),
                raw.revocation_reload_interval.as_deref(),
                false,
            )?
            .unwrap_or(DEFAULT_REVOCATION_RELOAD);
        let signing_key = match &raw.signing_key {
            Some(path) => Some(self.path(&key.child("signing_key"), path)?),
            None => None,
        };
        let signing_passport_id = self.signing_passport_id(&key, &raw, &profiles)?;
        let sign_profile_a_responses = raw.sign_profile_a_responses.unwrap_or(false);
        let revocation_authority = self.revocation_authority(&key, &raw)?;
        let mut require = Vec::new();
        for (upstream, entry) in raw.require.into_iter().flatten() {
            require.push(self.requirement(
                &key.child("require").child(&upstream),
                upstream,
                entry,
            )?);
        }
        Ok(Some(McpsConfig {
            profiles,
            trust_store,
            window,
            replay,
            revocation_list,
            revocation_reload_interval,
            signing_key,
            signing_passport_id,
            sign_profile_a_responses,
            require,
            revocation_authority,
        }))
    }

    /// `signing_passport_id` and `sign_profile_a_responses`: the gateway's identity in its
    /// signed responses to profile A and B requests.
    fn signing_passport_id(
        &self,
        key: &KeyPath,
        raw: &RawMcps,
        profiles: &[McpsProfile],
    ) -> Result<Option<String>, ConfigError> {
        let Some(id) = &raw.signing_passport_id else {
            if raw.sign_profile_a_responses.is_some() {
                return Err(self.error(
                    &key.child("sign_profile_a_responses"),
                    "needs `signing_passport_id`, the gateway's passport id in its profile A responses",
                ));
            }
            return Ok(None);
        };
        let at = key.child("signing_passport_id");
        if raw.signing_key.is_none() {
            return Err(self.error(
                &at,
                "needs `signing_key`, the P-256 key that signs the responses",
            ));
        }
        let hex = id.strip_prefix("asp_").unwrap_or_default();
        if hex.len() != 32 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(self.error(
                &at,
                format!("`{id}` must be `asp_` followed by 32 lowercase hex digits"),
            ));
        }
        if !profiles
            .iter()
            .any(|p| matches!(p, McpsProfile::A | McpsProfile::B))
        {
            return Err(self.error(&at, "only applies when `profiles` includes `a` or `b`"));
        }
        if raw.sign_profile_a_responses == Some(true) && !profiles.contains(&McpsProfile::A) {
            return Err(self.error(
                &key.child("sign_profile_a_responses"),
                "only applies when `profiles` includes `a`",
            ));
        }
        Ok(Some(id.clone()))
    }

    fn revocation_authority(
        &self,
        key: &KeyPath,
        raw: &RawMcps,
    ) -> Result<Option<RevocationAuthorityConfig>, ConfigError> {
        let Some(url) = &raw.revocation_url else {
            for (name, set) in [
                (
                    "revocation_authority_key",
                    raw.revocation_authority_key.is_some(),
                ),
                ("revocation_ttl", raw.revocation_ttl.is_some()),
                ("revocation_extra_ca", raw.revocation_extra_ca.is_some()),
                (
                    "dangerous_allow_http_revocation",
                    raw.dangerous_allow_http_revocation.is_some(),
                ),
            ] {
                if set {
                    return Err(self.error(&key.child(name), "needs `revocation_url`"));
                }
            }
            return Ok(None);
        };
        let allow_http = raw.dangerous_allow_http_revocation.unwrap_or(false);
        if !(url.starts_with("https://") || allow_http && url.starts_with("http://")) {
            return Err(self.error(
                &key.child("revocation_url"),
                "must be an https:// URL (http:// only with `dangerous_allow_http_revocation = true`)",
            ));
        }
        if url.matches("{id}").count() != 1 {
            return Err(self.error(
                &key.child("revocation_url"),
                "must hold `{id}` exactly once, where the signer id goes",
            ));
        }
        let authority_key = raw.revocation_authority_key.as_deref().ok_or_else(|| {
            self.error(
                &key.child("revocation_authority_key"),
                "is required with `revocation_url`: the public key that signs the authority's answers",
            )
        })?;
        let authority_key = self.path(&key.child("revocation_authority_key"), authority_key)?;
        let ttl = self
            .duration(
                &key.child("revocation_ttl"),
                raw.revocation_ttl.as_deref(),
                false,
            )?
            .unwrap_or(DEFAULT_REVOCATION_TTL);
        let extra_ca = match &raw.revocation_extra_ca {
            Some(path) => Some(self.path(&key.child("revocation_extra_ca"), path)?),
            None => None,
        };
        Ok(Some(RevocationAuthorityConfig {
            url: url.clone(),
            key: authority_key,
            ttl,
            extra_ca,
            allow_http,
        }))
    }

    fn replay(&self, key: &KeyPath, raw: &RawMcps) -> Result<ReplayConfig, ConfigError> {
        let kind = raw.replay.unwrap_or(RawReplayKind::Memory);
        let misplaced = |name: &str, needs: &str| {
            self.error(
                &key.child(name),
                format!("only applies with `replay = \"{needs}\"`"),
            )
        };
        if raw.replay_path.is_some() && kind != RawReplayKind::Sqlite {
            return Err(misplaced("replay_path", "sqlite"));
        }
        if (raw.replay_url.is_some() || raw.replay_prefix.is_some()) && kind != RawReplayKind::Redis
        {
            let name = if raw.replay_url.is_some() {
                "replay_url"
            } else {
                "replay_prefix"
            };
            return Err(misplaced(name, "redis"));
        }
        if raw.replay_capacity.is_some() && kind != RawReplayKind::Memory {
            return Err(misplaced("replay_capacity", "memory"));
        }
        match kind {
            RawReplayKind::Memory => Ok(ReplayConfig::Memory {
                capacity: self.count(
                    &key.child("replay_capacity"),
                    raw.replay_capacity,
                    DEFAULT_REPLAY_CAPACITY,
                    1,
                    None,
                )?,
            }),
            RawReplayKind::Sqlite => {
                let path = raw.replay_path.as_deref().ok_or_else(|| {
                    self.error(
                        &key.child("replay_path"),
                        "is required with `replay = \"sqlite\"`: the database file",
                    )
                })?;
                Ok(ReplayConfig::Sqlite {
                    path: self.path(&key.child("replay_path"), path)?,
                })
            }
            RawReplayKind::Redis => {
                let url = raw.replay_url.as_deref().ok_or_else(|| {
                    self.error(
                        &key.child("replay_url"),
                        "is required with `replay = \"redis\"`: redis://host:port",
                    )
                })?;
                let scheme_ok = url::Url::parse(url)
                    .is_ok_and(|u| matches!(u.scheme(), "redis" | "redis+unix" | "unix"));
                if !scheme_ok {
                    // The URL may hold a password: it is not repeated in the message.
                    return Err(self.error(
                        &key.child("replay_url"),
                        "must be a `redis://[user:password@]host[:port][/db]` or `redis+unix://` URL",
                    ));
                }
                let prefix = raw
                    .replay_prefix
                    .clone()
                    .unwrap_or_else(|| DEFAULT_REPLAY_PREFIX.to_owned());
                let prefix_ok = !prefix.is_empty()
                    && prefix.len() <= 64
                    && prefix
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
                if !prefix_ok {
                    return Err(self.error(
                        &key.child("replay_prefix"),
                        format!("`{prefix}` must be 1 to 64 characters from `A-Z a-z 0-9 _ - . :`"),
                    ));
                }
                Ok(ReplayConfig::Redis {
                    url: url.to_owned(),
                    prefix,
                })
            }
        }
    }

    fn requirement(
        &self,
        key: &KeyPath,
        upstream: String,
        raw: RawMcpsRequire,
    ) -> Result<McpsRequirement, ConfigError> {
        let min_trust_level = self.count(
            &key.child("min_trust_level"),
            raw.min_trust_level,
            0,
            0,
            Some(MAX_TRUST_LEVEL),
        )?;
        let min_trust_level = u8::try_from(min_trust_level).unwrap_or(u8::MAX);
        let signed = raw.signed.unwrap_or(true);
        if !signed && min_trust_level > 0 {
            return Err(self.error(
                &key.child("signed"),
                "cannot be `false` with a `min_trust_level` above 0: only signed calls have a trust level",
            ));
        }
        let tools = raw.tools.unwrap_or_default();
        for (index, tool) in tools.iter().enumerate() {
            if tool.trim().is_empty() {
                return Err(self.error(&key.child("tools").index(index), "must not be empty"));
            }
        }
        Ok(McpsRequirement {
            upstream,
            signed,
            min_trust_level,
            tools,
        })
    }

    /// `[mcps.require.NAME]` must name a configured upstream.
    pub(crate) fn mcps_cross_check(&self, config: &Config) -> Result<(), ConfigError> {
        let Some(mcps) = &config.mcps else {
            return Ok(());
        };
        for requirement in &mcps.require {
            if config.upstream(&requirement.upstream).is_none() {
                return Err(self.error(
                    &KeyPath::root("mcps")
                        .child("require")
                        .child(&requirement.upstream),
                    format!(
                        "names no configured upstream; add `[upstreams.{}]` or fix the name",
                        requirement.upstream
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPSTREAM: &str = "[upstreams.demo]\ntransport = \"stdio\"\ncommand = \"x\"\n";

    fn parse(mcps: &str) -> Result<Config, ConfigError> {
        crate::parse(&format!("{UPSTREAM}{mcps}"), "/etc/mcpgate/gateway.toml")
    }

    fn error(mcps: &str) -> String {
        parse(mcps).unwrap_err().to_string()
    }

    #[test]
    fn defaults() {
        let config = parse("[mcps]\ntrust_store = \"signers.toml\"\n").unwrap();
        let mcps = config.mcps.unwrap();
        assert_eq!(
            mcps.profiles,
            [McpsProfile::A, McpsProfile::B, McpsProfile::Native]
        );
        assert_eq!(
            mcps.trust_store,
            std::path::Path::new("/etc/mcpgate/signers.toml")
        );
        assert_eq!(mcps.window, Duration::from_secs(300));
        assert_eq!(mcps.replay, ReplayConfig::Memory { capacity: 100_000 });
        assert!(mcps.require.is_empty());
        assert!(parse("").unwrap().mcps.is_none());
    }

    #[test]
    fn full_section() {
        let config = parse(
            "[mcps]\nprofiles = [\"native\", \"a\"]\ntrust_store = \"s.toml\"\nwindow = \"60s\"\n\
             replay = \"redis\"\nreplay_url = \"redis://127.0.0.1:6379\"\nreplay_prefix = \"t:1\"\n\
             revocation_list = \"revoked.txt\"\n\
             [mcps.require.demo]\nmin_trust_level = 2\ntools = [\"write_note\"]\n",
        )
        .unwrap();
        let mcps = config.mcps.unwrap();
        assert_eq!(mcps.profiles, [McpsProfile::Native, McpsProfile::A]);
        assert_eq!(
            mcps.replay,
            ReplayConfig::Redis {
                url: "redis://127.0.0.1:6379".into(),
                prefix: "t:1".into()
            }
        );
        assert_eq!(
            mcps.require,
            [McpsRequirement {
                upstream: "demo".into(),
                signed: true,
                min_trust_level: 2,
                tools: vec!["write_note".into()],
            }]
        );
        assert!(mcps.require[0].covers("write_note"));
        assert!(!mcps.require[0].covers("read_note"));
    }

    #[test]
    fn refusals() {
        assert!(error("[mcps]\n").contains("trust_store"));
        assert!(error("[mcps]\ntrust_store = \"s\"\nprofiles = []\n").contains("profiles"));
        assert!(
            error("[mcps]\ntrust_store = \"s\"\nprofiles = [\"c\"]\n").contains("unknown variant")
        );
        assert!(error("[mcps]\ntrust_store = \"s\"\nwindow = \"2h\"\n").contains("mcps.window"));
        assert!(error("[mcps]\ntrust_store = \"s\"\nreplay = \"redis\"\n").contains("replay_url"));
        assert!(
            error("[mcps]\ntrust_store = \"s\"\nreplay = \"sqlite\"\n").contains("replay_path")
        );
        assert!(
            error("[mcps]\ntrust_store = \"s\"\nreplay_url = \"redis://x\"\n")
                .contains("only applies")
        );
        let secret = error(
            "[mcps]\ntrust_store = \"s\"\nreplay = \"redis\"\nreplay_url = \"http://u:hunter2@x\"\n",
        );
        assert!(!secret.contains("hunter2"), "{secret}");
        assert!(
            error("[mcps]\ntrust_store = \"s\"\n[mcps.require.nope]\nsigned = true\n")
                .contains("no configured upstream")
        );
        assert!(
            error("[mcps]\ntrust_store = \"s\"\n[mcps.require.demo]\nmin_trust_level = 5\n")
                .contains("min_trust_level")
        );
        assert!(
            error("[mcps]\ntrust_store = \"s\"\n[mcps.require.demo]\nsigned = false\nmin_trust_level = 1\n")
                .contains("signed")
        );
    }

    #[test]
    fn response_signing() {
        let base = "[mcps]\ntrust_store = \"s.toml\"\nsigning_key = \"gateway.pem\"\n";
        let id = "asp_0123456789abcdef0123456789abcdef";
        let mcps = parse(base).unwrap().mcps.unwrap();
        assert_eq!(
            mcps.signing_key.as_deref(),
            Some(std::path::Path::new("/etc/mcpgate/gateway.pem"))
        );
        assert_eq!(mcps.signing_passport_id, None);
        assert!(!mcps.sign_profile_a_responses);
        let mcps = parse(&format!("{base}signing_passport_id = \"{id}\"\n"))
            .unwrap()
            .mcps
            .unwrap();
        assert_eq!(mcps.signing_passport_id.as_deref(), Some(id));
        assert!(!mcps.sign_profile_a_responses);
        let mcps = parse(&format!(
            "{base}signing_passport_id = \"{id}\"\nsign_profile_a_responses = true\n"
        ))
        .unwrap()
        .mcps
        .unwrap();
        assert!(mcps.sign_profile_a_responses);
        // Profile B alone takes a passport id too.
        assert!(
            parse(&format!(
                "{base}profiles = [\"b\"]\nsigning_passport_id = \"{id}\"\n"
            ))
            .is_ok()
        );

        for (config, key, needle) in [
            (
                format!("[mcps]\ntrust_store = \"s\"\nsigning_passport_id = \"{id}\"\n"),
                "mcps.signing_passport_id",
                "needs `signing_key`",
            ),
            (
                format!("{base}sign_profile_a_responses = true\n"),
                "mcps.sign_profile_a_responses",
                "needs `signing_passport_id`",
            ),
            (
                format!("{base}sign_profile_a_responses = false\n"),
                "mcps.sign_profile_a_responses",
                "needs `signing_passport_id`",
            ),
            (
                format!("{base}signing_passport_id = \"asp_0123\"\n"),
                "mcps.signing_passport_id",
                "32 lowercase hex",
            ),
            (
                format!("{base}signing_passport_id = \"asp_0123456789ABCDEF0123456789ABCDEF\"\n"),
                "mcps.signing_passport_id",
                "32 lowercase hex",
            ),
            (
                format!("{base}signing_passport_id = \"gw_0123456789abcdef0123456789abcdef\"\n"),
                "mcps.signing_passport_id",
                "`asp_`",
            ),
            (
                format!("{base}profiles = [\"native\"]\nsigning_passport_id = \"{id}\"\n"),
                "mcps.signing_passport_id",
                "`a` or `b`",
            ),
            (
                format!(
                    "{base}profiles = [\"b\"]\nsigning_passport_id = \"{id}\"\n\
                     sign_profile_a_responses = true\n"
                ),
                "mcps.sign_profile_a_responses",
                "includes `a`",
            ),
        ] {
            let message = error(&config);
            assert!(message.contains(key), "{config}: {message}");
            assert!(message.contains(needle), "{config}: {message}");
        }
        let message = error(&format!("{base}signing_passport_id = 7\n"));
        assert!(message.contains("expected a string"), "{message}");
    }

    #[test]
    fn revocation_authority() {
        let base = "[mcps]\ntrust_store = \"s.toml\"\n";
        let config = parse(&format!(
            "{base}revocation_url = \"https://ta.example/r/{{id}}\"\n\
             revocation_authority_key = \"ta.pem\"\n"
        ))
        .unwrap();
        assert_eq!(
            config.mcps.unwrap().revocation_authority,
            Some(RevocationAuthorityConfig {
                url: "https://ta.example/r/{id}".into(),
                key: "/etc/mcpgate/ta.pem".into(),
                ttl: Duration::from_secs(60),
                extra_ca: None,
                allow_http: false,
            })
        );
        for (extra, needle) in [
            (
                "revocation_url = \"http://ta/{id}\"\nrevocation_authority_key = \"k\"\n",
                "https",
            ),
            (
                "revocation_url = \"https://ta/r\"\nrevocation_authority_key = \"k\"\n",
                "{id}",
            ),
            (
                "revocation_url = \"https://ta/{id}\"\n",
                "revocation_authority_key",
            ),
            ("revocation_ttl = \"5s\"\n", "needs `revocation_url`"),
        ] {
            let message = error(&format!("{base}{extra}"));
            assert!(message.contains(needle), "{message}");
        }
        assert!(
            parse(&format!(
                "{base}revocation_url = \"http://127.0.0.1:1/{{id}}\"\n\
                 revocation_authority_key = \"k\"\ndangerous_allow_http_revocation = true\n"
            ))
            .is_ok()
        );
    }
}
