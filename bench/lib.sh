# Shared by the bench scripts (sourced, not run).

# server_address SECONDS FILE...: the address a server printed ("listening on ADDRESS") in
# any of FILES (its stdout and stderr), waited for up to SECONDS; prints it, or says so and
# shows the last file (the server's log) and exits.
server_address() {
  local seconds=$1 address
  shift
  for _ in $(seq "$((seconds * 20))"); do
    address=$(grep -h -m1 -o 'listening on [^ ]*' "$@" 2>/dev/null | head -1 | cut -d' ' -f3 || true)
    [ -n "$address" ] && { echo "$address"; return; }
    sleep 0.05
  done
  echo "no address printed in $*" >&2
  cat "${@: -1}" >&2
  exit 1
}
