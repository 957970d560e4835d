"""Interoperability helper for tests/interop_mcp_secure.rs.

Runs against the reference package `mcp-secure` 1.0.0 (profile A).

    python mcp_secure_interop.py verify DIR
        Reads what the Rust side wrote to DIR (agent.pub.pem, authority.pub.pem,
        passport.json, envelopes.jsonl), checks it with the reference's own verify
        functions and prints one JSON line of verdicts.

    python mcp_secure_interop.py sign DIR
        Signs a passport and a set of envelopes with fresh reference keys and writes
        them to DIR (agent.pub.pem, authority.pub.pem, passport.json,
        envelopes.jsonl, messages.jsonl).

The reference reads the clock itself, so both sides use the real current time.
"""

import json
import os
import sys

from mcp_secure import (
    MCPS_VERSION,
    create_passport,
    generate_key_pair,
    public_key_to_jwk,
    sign_message,
    sign_passport,
    validate_passport_format,
    verify_message,
    verify_passport_signature,
)
import mcp_secure


def read_text(directory, name):
    with open(os.path.join(directory, name), encoding="utf-8") as handle:
        return handle.read()


def write_text(directory, name, text):
    with open(os.path.join(directory, name), "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def verify(directory):
    agent_pem = read_text(directory, "agent.pub.pem")
    authority_pem = read_text(directory, "authority.pub.pem")
    passport = json.loads(read_text(directory, "passport.json"))

    envelopes = []
    lines = read_text(directory, "envelopes.jsonl").splitlines()
    for index, line in enumerate(lines):
        envelope = json.loads(line)
        verdict = verify_message(envelope, agent_pem)
        error = verdict.get("error")
        envelopes.append(
            {
                "index": index,
                "valid": bool(verdict.get("valid")),
                "error": error["code"] if error else None,
                "passport_id_matches": envelope.get("passport_id") == passport.get("passport_id"),
            }
        )

    fmt = validate_passport_format(passport)
    fmt_error = fmt.get("error")
    result = {
        "reference_version": mcp_secure.__version__,
        "envelopes": envelopes,
        "passport": {
            "signature_valid": bool(verify_passport_signature(passport, authority_pem)),
            "format_valid": bool(fmt.get("valid")),
            "format_error": fmt_error["code"] if fmt_error else None,
            "key_matches": passport.get("public_key") == public_key_to_jwk(agent_pem),
        },
    }
    sys.stdout.write(json.dumps(result) + "\n")


def messages():
    """Messages the reference signs: unicode, nesting, big integers, floats."""
    return [
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
         "params": {"name": "echo", "arguments": {"text": "h\u00e9llo w\u00f6rld \u2603 \U0001F600"}}},
        {"jsonrpc": "2.0", "id": "req-\u65e5\u672c", "result": {"content": [
            {"type": "text", "text": "line1\nline2\t\"quoted\" \\ back\u2028sep\u0001"}]}},
        {"zeta": 1, "alpha": 2, "\u00e9t\u00e9": 3, "nested": {"b": [1, [2, [3, {"c": None}]]], "a": True}},
        {"jsonrpc": "2.0", "id": 5, "params": {"big": 2 ** 70, "neg": -(2 ** 64) - 1,
                                                "max_i64": 9223372036854775807, "zero": 0}},
        {"jsonrpc": "2.0", "id": 6, "params": {"floats": [0.1, -0.0, 1e-07, 1e22, 1e16, 123456789.125,
                                                          1.7976931348623157e308, 5e-324, -2.5, 3.0]}},
        {"jsonrpc": "2.0", "id": 7, "method": "notifications/progress",
         "params": {"progress": 0.75, "total": 1.0, "empty_obj": {}, "empty_arr": [], "empty_str": ""}},
        {"jsonrpc": "2.0", "id": 8, "error": {"code": -32601, "message": "Method not found", "data": None}},
        {"deep": {"l1": {"l2": {"l3": {"l4": {"l5": {"l6": ["\U0001F512", "\u00ff", "/slash/"]}}}}}}},
        {"jsonrpc": "2.0", "id": 10, "method": "resources/read",
         "params": {"uri": "file:///tmp/\u00fcber.txt", "flags": [True, False, None]}},
    ]


def sign(directory):
    agent = generate_key_pair()
    authority = generate_key_pair()
    passport = create_passport(
        "interop-agent",
        version="2.1.0",
        public_key=agent["public_key"],
        capabilities=["tools/call", "resources/read"],
        scan_results={"score": 97, "findings": [], "scanner": "interop"},
    )
    passport = sign_passport(passport, authority["private_key"])

    envelope_lines = []
    message_lines = []
    for index, message in enumerate(messages()):
        envelope = sign_message(message, passport["passport_id"], agent["private_key"])
        if envelope["mcps"] != MCPS_VERSION:
            raise SystemExit("unexpected mcps version")
        # Alternate ASCII-escaped and raw UTF-8 wire text; both are what Python senders emit.
        envelope_lines.append(json.dumps(envelope, ensure_ascii=(index % 2 == 0)))
        message_lines.append(json.dumps(message))

    write_text(directory, "agent.pub.pem", agent["public_key"])
    write_text(directory, "authority.pub.pem", authority["public_key"])
    write_text(directory, "passport.json", json.dumps(passport))
    write_text(directory, "envelopes.jsonl", "\n".join(envelope_lines) + "\n")
    write_text(directory, "messages.jsonl", "\n".join(message_lines) + "\n")
    sys.stdout.write(json.dumps({"envelopes": len(envelope_lines)}) + "\n")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("verify", "sign"):
        raise SystemExit("usage: mcp_secure_interop.py verify|sign DIR")
    if sys.argv[1] == "verify":
        verify(sys.argv[2])
    else:
        sign(sys.argv[2])


if __name__ == "__main__":
    main()
