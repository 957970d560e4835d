#!/usr/bin/env bash
# Install the bridges that `mcpgate-bench --peers` compares the gateway with into a cache
# directory outside the repository, then print `export` lines that point the harness at them.
#
#   ${MCPGATE_CACHE:-$HOME/.cache/mcpgate}/
#     bench-venv/  Python virtualenv with PyPI `mcp-proxy` (stdio -> Streamable HTTP bridge)
#     bench-npm/   npm `supergateway` (stdio -> Streamable HTTP bridge, run with Node >= 20)
#
# Pins live in scripts/deps/bench/: package.json and requirements.in name the exact versions;
# package-lock.json and requirements.txt lock the whole resolved trees. Each component holds
# a stamp of its pins and lock checksums and is reinstalled only when they change or its files
# are missing, so a warm run takes a fraction of a second. After installing, the script checks
# that each bridge's `--help` still lists every flag the harness passes.
#
# Usage:
#   eval "$(scripts/bench-deps.sh)"   install what is missing, export MCPGATE_BENCH_* variables
#   scripts/bench-deps.sh --relock    after editing a pin in scripts/deps/bench/: regenerate locks
#
# Node: the first of $MCPGATE_BENCH_NODE, `node` on PATH, $MCPGATE_NODE that is version 20 or
# newer (supergateway 4.0.0 declares `engines.node >= 20`).
#
# stdout carries only the final `export` lines; everything else goes to stderr.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deps="$repo/scripts/deps/bench"
stamp_name=.mcpgate-bench-stamp

deps_tool=bench-deps
# shellcheck source=scripts/lib/deps.sh
source "$repo/scripts/lib/deps.sh"

# The stamp a component should carry: its pins, then a checksum of every file in $1.
expected_stamp() {
	local src=$1
	shift
	printf '%s\n' "$@"
	(cd "$src" && sha256sum -- "${files[@]}")
}

# A Node.js >= 20 to run supergateway with.
pick_node() {
	local candidate major
	for candidate in "${MCPGATE_BENCH_NODE:-}" "$(command -v node || true)" "${MCPGATE_NODE:-}"; do
		[[ -n "$candidate" && -x "$candidate" ]] || continue
		major=$("$candidate" -p 'process.versions.node.split(".")[0]' 2>/dev/null) || continue
		if ((major >= 20)); then
			printf '%s\n' "$candidate"
			return
		fi
	done
	die "no Node.js >= 20 found (set MCPGATE_BENCH_NODE, or run eval \"\$(scripts/test-deps.sh)\" for MCPGATE_NODE)"
}

# Every flag in "$@" (after the first argument, the help text) must appear in the help text.
check_flags() {
	local what=$1 help=$2 flag
	shift 2
	for flag in "$@"; do
		grep -q -- "$flag" <<<"$help" || die "$what --help no longer lists $flag; the harness passes it"
	done
}

relock() {
	need npm "install Node.js and npm"
	local tmp
	tmp=$(mktemp -d)
	# shellcheck disable=SC2064 # expand $tmp now, while it is set
	trap "rm -rf '$tmp'" EXIT
	log "locking scripts/deps/bench/package-lock.json"
	cp "$deps/package.json" "$tmp/"
	(cd "$tmp" && npm install --package-lock-only --ignore-scripts --no-audit --no-fund \
		--omit-lockfile-registry-resolved --loglevel=warn) >&2
	cp "$tmp/package-lock.json" "$deps/package-lock.json"
	log "locking scripts/deps/bench/requirements.txt"
	"$(base_python)" -m venv "$tmp/venv"
	"$tmp/venv/bin/python" -m pip install --disable-pip-version-check --no-input -q \
		-r "$deps/requirements.in" >&2
	{
		echo "# The resolved Python dependencies of the benchmark peers, used as constraints by"
		echo "# scripts/bench-deps.sh. Generated from requirements.in by \`scripts/bench-deps.sh --relock\`; do not edit."
		"$tmp/venv/bin/python" -m pip freeze --disable-pip-version-check
	} >"$deps/requirements.txt"
	log "done; review the changes under scripts/deps/bench/"
}

deps_main_args "${BASH_SOURCE[0]}" "$@"
open_cache .bench-lock

started=$SECONDS

# --- supergateway (npm) -------------------------------------------------------------------------
sg_version=$(sed -n 's|.*"supergateway": *"\([^"]*\)".*|\1|p' "$deps/package.json")
[[ -n "$sg_version" ]] || die "no supergateway pin in $deps/package.json"
npm_dir="$cache/bench-npm"
supergateway="$npm_dir/node_modules/supergateway/dist/index.js"
files=(package.json package-lock.json)
stamp=$(expected_stamp "$deps" "supergateway@$sg_version")
if ! up_to_date "$npm_dir" "$stamp" "$supergateway"; then
	need npm "install Node.js (>= 18) with npm; it is only used to fetch the pinned packages"
	[[ -f "$deps/package-lock.json" ]] || die "$deps/package-lock.json is missing; run scripts/bench-deps.sh --relock"
	log "installing supergateway@$sg_version into $npm_dir"
	rm -rf "$npm_dir"
	mkdir -p "$npm_dir"
	cp "$deps/package.json" "$deps/package-lock.json" "$npm_dir/"
	# --ignore-scripts: no locked package needs an install script.
	(cd "$npm_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=warn) >&2 ||
		die "npm ci failed in $npm_dir (if the pin changed, run scripts/bench-deps.sh --relock)"
	[[ -f "$supergateway" ]] || die "$supergateway is missing after the install"
	printf '%s\n' "$stamp" >"$npm_dir/$stamp_name"
fi
node=$(pick_node)
installed=$(sed -n 's|^  "version": *"\([^"]*\)".*|\1|p' "$npm_dir/node_modules/supergateway/package.json")
[[ "$installed" == "$sg_version" ]] || die "$npm_dir holds supergateway $installed, not $sg_version"
check_flags supergateway "$("$node" "$supergateway" --help 2>&1)" \
	--stdio --outputTransport streamableHttp --stateful --port --logLevel --healthEndpoint
log "supergateway $sg_version ($node, $("$node" --version)): $supergateway"

# --- mcp-proxy (PyPI) ---------------------------------------------------------------------------
venv="$cache/bench-venv"
mcp_proxy="$venv/bin/mcp-proxy"
mapfile -t python_pins < <(grep -Ev '^[[:space:]]*(#|$)' "$deps/requirements.in")
files=(requirements.in requirements.txt)
stamp=$(expected_stamp "$deps" "${python_pins[@]}")
# `-V` also catches a venv whose base interpreter has been removed since.
if ! up_to_date "$venv" "$stamp" "$mcp_proxy" || ! "$venv/bin/python" -V >/dev/null 2>&1; then
	[[ -f "$deps/requirements.txt" ]] || die "$deps/requirements.txt is missing; run scripts/bench-deps.sh --relock"
	py=$(base_python)
	log "creating $venv with ${python_pins[*]} ($("$py" -V 2>&1))"
	rm -rf "$venv"
	"$py" -m venv "$venv" >&2 || die "could not create a virtualenv (on Debian/Ubuntu: apt-get install python3-venv)"
	"$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q \
		-c "$deps/requirements.txt" -r "$deps/requirements.in" >&2 ||
		die "pip install failed (if a pin changed, run scripts/bench-deps.sh --relock)"
	[[ -x "$mcp_proxy" ]] || die "$mcp_proxy is missing after the install"
	printf '%s\n' "$stamp" >"$venv/$stamp_name"
fi
mp_version=$("$mcp_proxy" --version 2>&1)
[[ "$mp_version" == "mcp-proxy ${python_pins[0]#mcp-proxy==}" ]] ||
	die "$mcp_proxy reports '$mp_version', not ${python_pins[0]}"
check_flags mcp-proxy "$("$mcp_proxy" --help 2>&1)" --host --port --log-level
log "$mp_version ($("$venv/bin/python" -V 2>&1)): $mcp_proxy"

log "ready in $((SECONDS - started))s (cache: $cache)"

# The only stdout output. Keep these last.
printf 'export MCPGATE_BENCH_MCP_PROXY=%q\n' "$mcp_proxy"
printf 'export MCPGATE_BENCH_SUPERGATEWAY=%q\n' "$supergateway"
printf 'export MCPGATE_BENCH_NODE=%q\n' "$node"
