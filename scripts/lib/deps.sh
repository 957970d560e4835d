# shellcheck shell=bash disable=SC2154  # deps_tool, repo, stamp_name: set by the sourcing script
# Helpers shared by scripts/test-deps.sh and scripts/bench-deps.sh; sourced, not run.
#
# The sourcing script sets, before sourcing: `deps_tool` (its name in messages), `repo` (the
# repository root), `stamp_name` (the stamp file name in each component directory), and defines
# `relock` (regenerate its lock files). After sourcing it calls `deps_main_args "$@"` and
# `open_cache LOCKFILE`, which sets `cache`.

log() { printf '%s: %s\n' "$deps_tool" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH; $2"; }

# True when component directory $1 carries stamp $2 and file $3 exists.
up_to_date() {
	[[ -f "$1/$stamp_name" && -e "$3" && "$(<"$1/$stamp_name")" == "$2" ]]
}

# A Python >= 3.10 (required by the mcp SDK and by mcp-proxy) to build virtualenvs from.
base_python() {
	local py=${MCPGATE_BASE_PYTHON:-python3}
	need "$py" "install Python >= 3.10 (or set MCPGATE_BASE_PYTHON)"
	"$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
		die "$py is $("$py" -V 2>&1); Python >= 3.10 is needed (set MCPGATE_BASE_PYTHON)"
	printf '%s\n' "$py"
}

# No argument: install. --relock: regenerate the locks and exit. --help: the script's header.
# $1 is the calling script's path (for --help), then its arguments.
deps_main_args() {
	local script=$1
	shift
	case "${1:-}" in
	"") ;;
	--relock)
		relock
		exit 0
		;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$script" | sed '$d; s/^# \{0,1\}//' >&2
		exit 0
		;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
}

# Sets `cache` (outside the repository, created) and takes the lock file $1 in it, so two
# checkouts sharing one cache never see half an install.
open_cache() {
	cache=$(realpath -m -- "${MCPGATE_CACHE:-$HOME/.cache/mcpgate}")
	case "$cache/" in
	"$(realpath -- "$repo")"/*) die "the cache ($cache) must be outside the repository ($repo)" ;;
	esac
	mkdir -p "$cache"
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$cache/$1"
		flock -w 900 9 || die "timed out waiting for the lock on $cache/$1"
	fi
}
