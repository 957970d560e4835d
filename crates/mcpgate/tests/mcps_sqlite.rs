//! The SQLite replay store (`[mcps] replay = "sqlite"`) through the real gateway binary: gateway
//! processes sharing one database file refuse each other's replays, and a restarted gateway
//! still refuses what it accepted before.

#![expect(clippy::unwrap_used, reason = "test code")]

use std::path::Path;

use mcpgate_test::mcps::{McpsGateway, sign_a, verdict, write_note, write_trust_store};
use mcpgate_test::toml_str;
use mcps::keys::{Algorithm, SigningKey};

const BIN: &str = env!("CARGO_BIN_EXE_mcpgate");
const AGENT: &str = "asp_agent0000000000000000000000000001";

/// A gateway trusting `agent` (as `AGENT`) whose replay store is the SQLite file `db`.
async fn gateway(agent: &SigningKey, db: &Path) -> McpsGateway {
    let dir = tempfile::tempdir().unwrap();
    write_trust_store(dir.path(), &[(AGENT, agent, 2)]);
    let config = format!(
        "[mcps]\ntrust_store = \"signers.toml\"\nwindow = \"60s\"\nreplay = \"sqlite\"\n\
         replay_path = {}\n",
        toml_str(&db.display().to_string())
    );
    McpsGateway::start(Path::new(BIN), dir, &config).await
}

fn agent_key() -> SigningKey {
    SigningKey::generate(Algorithm::EcdsaP256).unwrap()
}

#[tokio::test]
async fn an_envelope_accepted_by_one_gateway_is_a_replay_at_the_other() {
    let agent = agent_key();
    let shared = tempfile::tempdir().unwrap();
    let db = shared.path().join("replay.sqlite");
    let first = gateway(&agent, &db).await;
    let second = gateway(&agent, &db).await;

    let wire = sign_a(&write_note(1, "one.txt"), AGENT, &agent);
    let answer = first.send(&wire).await;
    assert_eq!(verdict(&answer), None, "{}", answer.body);
    assert_eq!(first.note("one.txt").as_deref(), Some("note 1"));
    let answer = second.send(&wire).await;
    assert_eq!(
        verdict(&answer).as_deref(),
        Some("replay"),
        "{}",
        answer.body
    );
    assert_eq!(answer.json()["id"], 1);
    assert!(second.note("one.txt").is_none());

    // The other way round, and a fresh envelope is accepted by either.
    let wire = sign_a(&write_note(2, "two.txt"), AGENT, &agent);
    assert_eq!(verdict(&second.send(&wire).await), None);
    assert_eq!(second.note("two.txt").as_deref(), Some("note 2"));
    assert_eq!(verdict(&first.send(&wire).await).as_deref(), Some("replay"));
    assert!(first.note("two.txt").is_none());
}

#[tokio::test]
async fn a_restarted_gateway_still_refuses_what_it_accepted_before() {
    let agent = agent_key();
    let shared = tempfile::tempdir().unwrap();
    let db = shared.path().join("replay.sqlite");
    let mut before = gateway(&agent, &db).await;
    let wire = sign_a(&write_note(1, "one.txt"), AGENT, &agent);
    assert_eq!(verdict(&before.send(&wire).await), None);
    assert_eq!(before.note("one.txt").as_deref(), Some("note 1"));
    let status = before.gw.stop().await.unwrap();
    assert!(status.success(), "{status}: {}", before.gw.stderr());
    drop(before);

    let after = gateway(&agent, &db).await;
    let answer = after.send(&wire).await;
    assert_eq!(
        verdict(&answer).as_deref(),
        Some("replay"),
        "{}",
        answer.body
    );
    assert!(after.note("one.txt").is_none());
    let fresh = sign_a(&write_note(2, "two.txt"), AGENT, &agent);
    assert_eq!(verdict(&after.send(&fresh).await), None);
    assert_eq!(after.note("two.txt").as_deref(), Some("note 2"));
}
