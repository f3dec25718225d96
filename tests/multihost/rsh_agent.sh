#!/usr/bin/env bash
# rsh_agent.sh HOST COMMAND...
# Open MPI's "remote shell" for the two-namespace test hosts (tests/multihost/netns.sh):
#     mpirun --mca plm_rsh_agent tests/multihost/rsh_agent.sh --hostfile DIR/hostfile ...
# (or OMPI_MCA_plm_rsh_agent).  Like `ssh HOST COMMAND...` it joins COMMAND into one string
# and runs it with /bin/sh on HOST, here: in HOST's network namespace.  Open MPI's remote
# commands are shell text (`PATH=...; export PATH; orted -mca ess "env" ...`), hence sh -c.
# The namespaces are found through AQ_NETNS_DIR (the DIR given to netns.sh up), which mpirun
# passes on in the environment like every other variable.
set -euo pipefail
: "${AQ_NETNS_DIR:?rsh_agent.sh: AQ_NETNS_DIR is not set (the directory of netns.sh up)}"
[ $# -ge 2 ] || {
  echo "rsh_agent.sh: usage: rsh_agent.sh HOST COMMAND..." >&2
  exit 2
}
host=$1
shift
if [ -n "${AQ_RSH_AGENT_LOG:-}" ]; then
  printf '%s rsh_agent %s: %s\n' "$(date +%T)" "$host" "$*" >>"$AQ_RSH_AGENT_LOG"
fi
exec "$(dirname "$0")/netns.sh" exec "$AQ_NETNS_DIR" "$host" /bin/sh -c "$*"
