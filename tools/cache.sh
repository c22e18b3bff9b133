# Sourced by the tools/install-*.sh scripts once they set BIN (the install dir): it makes
# BIN, and a built tool is reused while the version stamped next to it matches.
mkdir -p "$BIN"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
stamp() { echo "$BIN/.$1.version"; }
# fresh NAME VERSION: NAME is installed in BIN and was built for VERSION
fresh() { [[ -x "$BIN/$1" && -f "$(stamp "$1")" && "$(cat "$(stamp "$1")")" == "$2" ]]; }
