//! The configuration parser and the `mcpServers` importer.
//!
//! Input: any text, given both to `mcpgate_config::parse` (as TOML) and to
//! `mcpgate_config::import_mcp_servers` (as JSON); the seed corpus holds both kinds.
//!
//! Property checked beyond "no panic": what the importer returns parses as a configuration.
//! (The importer leaves some checks, such as credentials in URLs, to its own parse of what it
//! wrote, so an error that names "the converted configuration" is an expected refusal.)

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = mcpgate_config::parse(text, "fuzz.toml");

    if let Ok(toml) = mcpgate_config::import_mcp_servers(text, "fuzz.json")
        && let Err(e) = mcpgate_config::parse(&toml, "fuzz.toml")
    {
        panic!("the imported configuration does not parse: {e}\n{toml}");
    }
});
