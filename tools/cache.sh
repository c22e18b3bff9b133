# Sourced by the tools/install-*.sh scripts: a built tool is reused while the version
# stamped next to it matches. Needs BIN (the install dir).
stamp() { echo "$BIN/.$1.version"; }
# fresh NAME VERSION: NAME is installed in BIN and was built for VERSION
fresh() { [[ -x "$BIN/$1" && -f "$(stamp "$1")" && "$(cat "$(stamp "$1")")" == "$2" ]]; }
