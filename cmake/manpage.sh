#!/bin/sh
# concierge(1) from the binary's own --help (Debian's help2man), with each subcommand's --help in
# a COMMANDS section, gzipped: cmake/manpage.sh BINARY OUT.1.gz. Run by the install step
# (cmake/Packaging.cmake), so the page always describes the binary it ships with.
set -eu
bin=$1 out=$2
command -v help2man >/dev/null || { echo "manpage.sh: help2man is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The subcommands, as the top-level help lists them ("Subcommands:" up to a blank line).
commands=$("$bin" --help | awk '/^Subcommands:/ {on = 1; next} on && NF == 0 {on = 0} on {print $1}')
{
  echo "[COMMANDS]"
  for c in $commands; do
    echo ".SS \"concierge $c\""
    echo ".nf"
    # roff: a backslash is \e; a line starting with . or ' would be a request.
    "$bin" "$c" --help | sed -e 's/\\/\\e/g' -e "s/^[.']/\\\\\&&/"
    echo ".fi"
  done
  echo "[ENVIRONMENT]"
  echo ".TP"; echo ".B CONCIERGE_DATA_DIR"; echo "Where the database lives when --data-dir is not given."
  echo ".TP"; echo ".B CONCIERGE_CONFIG"; echo "The configuration file (default: \$XDG_CONFIG_HOME/concierge/config.json, else ~/.config/concierge/config.json)."
  echo "[SEE ALSO]"
  echo "The systemd units concierge.service (system) and concierge.service (user), and the project's README and docs/tools.md."
} > "$tmp/include"

help2man --no-info --section=1 --name="an MCP server for your calendar, mail, music, video and bookings" \
  --include="$tmp/include" --output="$tmp/concierge.1" "$bin"
mkdir -p "$(dirname "$out")"
gzip -9n < "$tmp/concierge.1" > "$out"
