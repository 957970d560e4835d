#!/usr/bin/env python3
"""Drive an MCP server with the official Python `mcp` SDK client and report what it saw.

Used by the Rust integration tests to check that a real third-party client works through
mcpgate, over either transport and in either protocol era.

Usage:
    py_client.py http URL [OPTIONS]
    py_client.py stdio [OPTIONS] -- CMD [ARGS...]

Options:
    --mode auto|legacy|2026-07-28   how to negotiate (default auto: `server/discover` probe,
                                    falling back to the legacy initialize handshake)
    --echo-tool NAME                echo tool to call (default echo)
    --add-tool NAME                 addition tool to call (default add)
    --header 'NAME: VALUE'          extra HTTP header on every request (http only; repeatable)
    --timeout SECONDS               bound on the whole run (default 30; a stdio server that
                                    ignores the end of its input gets the SDK's few seconds of
                                    shutdown grace on top before it is killed)

The client connects, lists the tools, calls the echo tool with {"message": "hello from python"}
and the addition tool with {"a": 2, "b": 3}, then prints one JSON line on stdout:

    {"protocol_version": "...", "tools": [sorted names], "echo": "<text>", "add": "<text>"}

where each text is that of the first content block of the tool result. On any failure (no
connection, tool missing, tool error result, non-text content, timeout) it prints a message
on stderr and exits with status 1; usage errors exit with status 2. A stdio server inherits
this process's environment and stderr.
Run it with the interpreter of the test venv (`$MCPGATE_PYTHON`, see scripts/test-deps.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

if sys.version_info < (3, 11):  # the SDK supports 3.10, where anyio brings the backport
    from exceptiongroup import BaseExceptionGroup

PROG = "py_client.py"
ECHO_MESSAGE = "hello from python"
ADD_ARGS = {"a": 2, "b": 3}


class Failure(Exception):
    """A check failed; the message says which."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    # Everything after the first `--` is the stdio server command, taken verbatim.
    command: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, command = argv[:split], argv[split + 1 :]

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run list_tools, echo and add against an MCP server; print one JSON line.",
        usage=f"{PROG} http URL [OPTIONS] | {PROG} stdio [OPTIONS] -- CMD [ARGS...]",
    )
    parser.add_argument("transport", choices=["http", "stdio"])
    parser.add_argument("url", nargs="?", help="server URL (http transport only)")
    parser.add_argument("--mode", default="auto", help="auto (default), legacy, or 2026-07-28")
    parser.add_argument("--echo-tool", default="echo", metavar="NAME")
    parser.add_argument("--add-tool", default="add", metavar="NAME")
    parser.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS")
    args = parser.parse_args(argv)
    args.command = command

    if args.transport == "http":
        if not args.url:
            parser.error("http needs a URL")
        if command:
            parser.error("http takes no `-- CMD`")
    else:
        if args.url:
            parser.error(f"unexpected argument {args.url!r} (put the server command after `--`)")
        if not command:
            parser.error("stdio needs the server command after `--`")
        if args.header:
            parser.error("--header applies to http only")
    for header in args.header:
        if ":" not in header:
            parser.error(f"--header {header!r} is not 'NAME: VALUE'")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    return args


@asynccontextmanager
async def connect(args: argparse.Namespace) -> AsyncIterator[Client]:
    """Open a Client for the chosen transport and mode."""
    if args.transport == "stdio":
        # Pass the whole environment (the SDK otherwise keeps only a few safe variables), so
        # that a gateway under test sees the configuration its test gives it.
        params = StdioServerParameters(command=args.command[0], args=args.command[1:], env=dict(os.environ))
        async with Client(params, mode=args.mode) as client:
            yield client
    elif args.header:
        headers = dict((part.strip() for part in h.split(":", 1)) for h in args.header)
        # The SDK's default HTTP timeouts: 30 s, and 300 s to read (SSE streams stay open).
        async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=300.0)) as http:
            async with Client(streamable_http_client(args.url, http_client=http), mode=args.mode) as client:
                yield client
    else:
        async with Client(args.url, mode=args.mode) as client:
            yield client


async def call_for_text(client: Client, tool: str, arguments: dict[str, Any]) -> str:
    """Call a tool and return the text of the first content block of a successful result."""
    result = await client.call_tool(tool, arguments)
    if result.is_error:
        raise Failure(f"tool {tool!r} returned an error result: {result.model_dump_json(exclude_none=True)}")
    if not result.content:
        raise Failure(f"tool {tool!r} returned no content")
    first = result.content[0]
    if first.type != "text":
        raise Failure(f"tool {tool!r} returned {first.type!r} content, expected text")
    return first.text


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with anyio.fail_after(args.timeout):
        async with connect(args) as client:
            listed = await client.list_tools()
            tools = sorted(tool.name for tool in listed.tools)
            for tool in (args.echo_tool, args.add_tool):
                if tool not in tools:
                    raise Failure(f"tool {tool!r} is not listed; the server has {tools}")
            return {
                "protocol_version": client.protocol_version,
                "tools": tools,
                "echo": await call_for_text(client, args.echo_tool, {"message": ECHO_MESSAGE}),
                "add": await call_for_text(client, args.add_tool, ADD_ARGS),
            }


def describe(error: BaseException) -> str:
    """One line per underlying error; task groups wrap them in exception groups."""
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(describe(inner) for inner in error.exceptions)
    if isinstance(error, Failure):
        return str(error)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        report = anyio.run(run, args)
    except TimeoutError:
        print(f"{PROG}: error: timed out after {args.timeout:g} s", file=sys.stderr)
        return 1
    except (Exception, BaseExceptionGroup) as error:  # report every failure the same way
        print(f"{PROG}: error: {describe(error)}", file=sys.stderr)
        return 1
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
