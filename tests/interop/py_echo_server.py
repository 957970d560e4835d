#!/usr/bin/env python3
"""A small dual-era MCP server built on the Python `mcp` SDK, used as a test upstream.

It speaks both the legacy lifecycle (initialize handshake, 2025-11-25 and earlier) and the
modern one (2026-07-28): the SDK's MCPServer answers whichever the client uses.

Tools:
    echo(message: str) -> the message, unchanged
    add(a: int, b: int) -> a + b

Usage:
    py_echo_server.py stdio         serve MCP on stdin/stdout
    py_echo_server.py http PORT     serve Streamable HTTP at http://127.0.0.1:PORT/mcp

In HTTP mode the server binds 127.0.0.1 only (the SDK's DNS-rebinding protection is on), and
prints one line, `http://127.0.0.1:PORT/mcp`, on stdout as soon as the socket is listening.
PORT 0 picks a free port; read the URL from that line. Logs go to stderr.
Run it with the interpreter of the test venv (`$MCPGATE_PYTHON`, see scripts/test-deps.sh).
"""

from __future__ import annotations

import socket
import sys

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer

HOST = "127.0.0.1"
USAGE = "usage: py_echo_server.py stdio | py_echo_server.py http PORT"

app = MCPServer("py-echo", version="1.0.0", log_level="WARNING")


@app.tool()
def echo(message: str) -> str:
    """Return the message unchanged."""
    return message


@app.tool()
def add(a: int, b: int) -> int:
    """Return the sum of a and b."""
    return a + b


async def serve_http(port: int) -> None:
    """Serve Streamable HTTP on HOST:port, announcing the URL once the socket listens."""
    # Bind the socket ourselves so that port 0 works and the URL can be announced before
    # uvicorn starts: connections made from then on wait in the listen backlog.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(128)
    print(f"http://{HOST}:{sock.getsockname()[1]}/mcp", flush=True)

    starlette_app = app.streamable_http_app(host=HOST)
    config = uvicorn.Config(starlette_app, log_level="warning")
    await uvicorn.Server(config).serve(sockets=[sock])


def main(argv: list[str]) -> int:
    if argv == ["stdio"]:
        app.run("stdio")
        return 0
    if len(argv) == 2 and argv[0] == "http" and argv[1].isdigit() and int(argv[1]) < 65536:
        try:
            anyio.run(serve_http, int(argv[1]))
        except OSError as error:  # e.g. the port is taken
            print(f"py_echo_server.py: cannot serve on {HOST}:{argv[1]}: {error}", file=sys.stderr)
            return 1
        return 0
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
