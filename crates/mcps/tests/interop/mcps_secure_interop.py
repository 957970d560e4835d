"""Interoperability helper for tests/interop_mcps_secure.rs.

Runs against the reference package `mcps-secure` 1.0.0 (profile B; import name `mcp_secure`).
That package is BUSL-1.1 licensed: it is only ever installed into the test's own virtual
environment, as an oracle, and is never a dependency of the product.

    python mcps_secure_interop.py verify DIR
        Reads what the Rust side wrote to DIR (agent.pub.pem, authority.pub.pem, passport.json,
        envelopes.jsonl, negatives.jsonl, and an issuer chain: chain-root.pub.pem,
        chain-passport.json, chain-forged.json), checks it with the reference's own functions and
        prints one JSON line of verdicts. Each line of envelopes.jsonl / negatives.jsonl is
        {"wire": <envelope text>, "channel_binding": <string or null>}.

    python mcps_secure_interop.py sign DIR
        Signs a passport and a set of envelopes with fresh reference keys and writes them to DIR
        (agent.pub.pem, authority.pub.pem, passport.json, envelopes.jsonl, messages.jsonl), and
        an agent passport issued through an intermediate issuer (chain-root.pub.pem,
        chain-passport.json, chain-unmarked.json: the same without the issuing capability).

The reference reads the clock itself, so both sides use the real current time.
"""

import base64
import hashlib
import importlib.metadata
import json
import os
import sys

from mcp_secure import (
    MCPS_VERSION,
    canonical_json,
    create_passport,
    generate_key_pair,
    get_effective_trust_level,
    public_key_to_jwk,
    sign_message,
    sign_passport,
    validate_origin,
    validate_passport_format,
    verify_issuer_chain,
    verify_message,
    verify_passport_signature,
)

ORIGIN = "https://api.example.com:8443"
CHANNEL_BINDING = "tls-exporter:3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
# The capability the Rust side requires of an intermediate issuer.
ISSUER_CAPABILITY = "mcps:issue-passports"


def read_text(directory, name):
    with open(os.path.join(directory, name), encoding="utf-8") as handle:
        return handle.read()


def write_text(directory, name, text):
    with open(os.path.join(directory, name), "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def verdicts(directory, name, agent_pem, passport_id):
    result = []
    for index, line in enumerate(read_text(directory, name).splitlines()):
        item = json.loads(line)
        envelope = json.loads(item["wire"])
        binding = item["channel_binding"]
        verdict = verify_message(envelope, agent_pem, channel_binding=binding)
        error = verdict.get("error")
        entry = {
            "index": index,
            "valid": bool(verdict.get("valid")),
            "error": error["code"] if error else None,
            "passport_id_matches": envelope["mcps"]["passport_id"] == passport_id,
            # The reference's view of the signed message, hashed as it hashes it.
            "message_hash": hashlib.sha256(
                canonical_json({k: v for k, v in envelope.items() if k != "mcps"}).encode()
            ).hexdigest(),
        }
        if binding:
            # A bound envelope must not verify without its binding.
            unbound = verify_message(envelope, agent_pem)
            entry["valid_without_binding"] = bool(unbound.get("valid"))
        result.append(entry)
    return result


def verify(directory):
    agent_pem = read_text(directory, "agent.pub.pem")
    authority_pem = read_text(directory, "authority.pub.pem")
    passport = json.loads(read_text(directory, "passport.json"))
    passport_id = passport.get("passport_id")

    fmt = validate_passport_format(passport)
    fmt_error = fmt.get("error")
    origin = validate_origin(passport, ORIGIN)
    result = {
        "reference_version": importlib.metadata.version("mcps-secure"),
        "mcps_version": MCPS_VERSION,
        "envelopes": verdicts(directory, "envelopes.jsonl", agent_pem, passport_id),
        "negatives": verdicts(directory, "negatives.jsonl", agent_pem, passport_id),
        "passport": {
            "signature_valid": bool(verify_passport_signature(passport, authority_pem)),
            "signature_valid_with_agent_key": bool(verify_passport_signature(passport, agent_pem)),
            "format_valid": bool(fmt.get("valid")),
            "format_error": fmt_error["code"] if fmt_error else None,
            "key_matches": passport.get("public_key") == public_key_to_jwk(agent_pem),
            "origin_valid": bool(origin.get("valid")),
            "effective_trust": get_effective_trust_level(passport, [passport.get("issuer")]),
        },
        "chain": chain_verdicts(directory),
    }
    sys.stdout.write(json.dumps(result) + "\n")


def chain_verdicts(directory):
    store = {"root-ta": read_text(directory, "chain-root.pub.pem")}
    result = {}
    for name in ("chain-passport.json", "chain-forged.json"):
        verdict = verify_issuer_chain(json.loads(read_text(directory, name)), store)
        result[name] = {"valid": bool(verdict.get("valid")),
                        "root_issuer": verdict.get("root_issuer"),
                        "chain_length": verdict.get("chain_length")}
    return result


def sign_chain(directory):
    root = generate_key_pair()
    intermediate_key = generate_key_pair()
    agent = generate_key_pair()
    for name, capabilities in (("chain-passport.json", [ISSUER_CAPABILITY]),
                               ("chain-unmarked.json", [])):
        intermediate = sign_passport(create_passport(
            "ca-1", public_key=intermediate_key["public_key"], capabilities=capabilities,
            issuer="root-ta"), root["private_key"])
        entry = base64.b64encode(json.dumps(intermediate).encode("utf-8")).decode("ascii")
        leaf = sign_passport(create_passport(
            "chained-agent", public_key=agent["public_key"], issuer="ca-1",
            issuer_chain=[entry]), intermediate_key["private_key"])
        if not verify_issuer_chain(leaf, {"root-ta": root["public_key"]}).get("valid"):
            raise SystemExit("the reference does not accept its own chain")
        write_text(directory, name, json.dumps(leaf))
    write_text(directory, "chain-root.pub.pem", root["public_key"])


def messages():
    """Messages the reference signs: unicode, key order, nesting, big integers, floats."""
    return [
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
         "params": {"name": "echo", "arguments": {"text": "h\u00e9llo w\u00f6rld \u2603 \U0001F600"}}},
        {"jsonrpc": "2.0", "id": "req-\u65e5\u672c", "result": {"content": [
            {"type": "text", "text": "line1\nline2\t\"quoted\" \\ back\u2028sep\u0001 del\u007f"}]}},
        {"zeta": 1, "alpha": 2, "\u00e9t\u00e9": 3, "\U0001F600": 4, "\uff01": 5,
         "nested": {"b": [1, [2, [3, {"c": None}]]], "a": True}},
        {"jsonrpc": "2.0", "id": 5, "params": {"big": 2 ** 70, "neg": -(2 ** 64) - 1,
                                                "max_i64": 9223372036854775807, "zero": 0}},
        {"jsonrpc": "2.0", "id": 6, "params": {"floats": [0.1, -0.0, 1e-07, 1e22, 1e16, 123456789.125,
                                                          1.7976931348623157e308, 5e-324, -2.5, 3.0,
                                                          9007199254740993.0, 2.0 ** 53]}},
        {"jsonrpc": "2.0", "id": 7, "method": "notifications/progress",
         "params": {"progress": 0.75, "total": 1.0, "empty_obj": {}, "empty_arr": [], "empty_str": ""}},
        {"jsonrpc": "2.0", "id": 8, "error": {"code": -32601, "message": "Method not found", "data": None}},
        {"deep": {"l1": {"l2": {"l3": {"l4": {"l5": {"l6": ["\U0001F512", "\u00ff", "/slash/"]}}}}}}},
        {"jsonrpc": "2.0", "id": 10, "method": "resources/read",
         "params": {"uri": "file:///tmp/\u00fcber.txt", "flags": [True, False, None]}},
        {"jsonrpc": "2.0", "id": 11, "result": {"text": "x" * 3000}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
    ]


def sign(directory):
    agent = generate_key_pair()
    authority = generate_key_pair()
    passport = create_passport(
        "interop-agent",
        version="2.1.0",
        public_key=agent["public_key"],
        origin=ORIGIN,
        capabilities=["tools/call", "resources/read"],
        scan_results={"score": 97, "coverage": 0.875, "ratio": 2.0, "findings": [], "scanner": "interop"},
        issuer="interop-authority",
    )
    passport = sign_passport(passport, authority["private_key"])

    envelope_lines = []
    message_lines = []
    for index, message in enumerate(messages()):
        binding = CHANNEL_BINDING if index % 4 == 3 else None
        envelope = sign_message(message, passport["passport_id"], agent["private_key"],
                                channel_binding=binding)
        if envelope["mcps"]["version"] != MCPS_VERSION:
            raise SystemExit("unexpected mcps version")
        # Alternate ASCII-escaped and raw UTF-8 wire text; both are what Python senders emit.
        wire = json.dumps(envelope, ensure_ascii=(index % 2 == 0))
        envelope_lines.append(json.dumps({"wire": wire, "channel_binding": binding}))
        message_lines.append(json.dumps(message))

    write_text(directory, "agent.pub.pem", agent["public_key"])
    write_text(directory, "authority.pub.pem", authority["public_key"])
    write_text(directory, "passport.json", json.dumps(passport))
    write_text(directory, "envelopes.jsonl", "\n".join(envelope_lines) + "\n")
    write_text(directory, "messages.jsonl", "\n".join(message_lines) + "\n")
    sign_chain(directory)
    sys.stdout.write(json.dumps({"envelopes": len(envelope_lines), "mcps_version": MCPS_VERSION}) + "\n")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("verify", "sign"):
        raise SystemExit("usage: mcps_secure_interop.py verify|sign DIR")
    if sys.argv[1] == "verify":
        verify(sys.argv[2])
    else:
        sign(sys.argv[2])


if __name__ == "__main__":
    main()
