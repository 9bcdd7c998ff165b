#!/usr/bin/env bash
# `mpirun` across machines, the machines being three network namespaces made
# here: one veth each into a bridge in a fourth ("switch") namespace, the
# addresses 10.213.0.1-3 only inside them (nothing added to the root
# namespace), Open MPI's TCP transport and nothing else between ranks, and a
# launcher agent that enters a host's namespace where ssh would log in.
#  hosts_distinct     the three ranks run one in each of the test's namespaces
#  np3_over_tcp       3 ranks train from one LMDB (a streamed source) into one
#                     shared run directory; rank 0 prints every level's lines
#  np3_bit_identical  the weights equal the one-process run's as
#                     tests/cli/mpi.sh defines it: one rank per level, tol 0
# Where namespaces cannot be made (no CAP_SYS_ADMIN, no veth or bridge in
# the kernel) it says SKIP with the reason, a SKIP under CI=true too; what
# scripts/deps.sh or scripts/test.sh should have provided (mpirun, iproute2,
# mdb_load, the MPI build) is a skip and a FAIL under CI=true. The MPI
# binary is found as tests/cli/mpi.sh finds it.
# Usage: mpi_netns.sh LAPGAN
set -u
source "$(dirname "$0")/lib.sh"
mpi=${LG_MPI_BIN:-$(dirname "$bin")-mpi/lapgan}
[ -x "$mpi" ] || mpi=$bin
if grep -qa __asan_init "$bin" && [ -z "${LG_MPI_BIN:-}" ]; then
  echo "# mpi_netns: runs once, with the normal build's MPI binary"; exit 0
fi
command -v mpirun >/dev/null || skip_all mpi_netns "no mpirun (scripts/deps.sh test installs openmpi-bin)"
grep -q "MPI_Init" "$mpi" 2>/dev/null ||
  skip_all mpi_netns "no MPI build: neither ${LG_MPI_BIN:-$(dirname "$bin")-mpi/lapgan} nor $bin (scripts/test.sh builds it: make MPI=1 cli)"
command -v ip >/dev/null || skip_all mpi_netns "no ip (scripts/deps.sh test installs iproute2)"
command -v mdb_load >/dev/null || skip_all mpi_netns "mdb_load absent (scripts/deps.sh test installs lmdb-utils)"
ompi=$(mpirun --version 2>/dev/null | sed -n 's/.*(Open MPI) \([0-9][0-9]*\)\..*/\1/p' | head -1)
[ -n "$ompi" ] || skip_all mpi_netns "mpirun is not Open MPI's (scripts/deps.sh test installs openmpi-bin)"

# ---- three hosts and a switch, removed on any exit -------------------------------
# The pid in the names keeps runs apart; a run killed by SIGKILL leaves its
# namespaces, which the next run removes once that pid is gone.
ns=("lgns-$$-1" "lgns-$$-2" "lgns-$$-3") sw="lgns-$$-sw"
addr=(10.213.0.1 10.213.0.2 10.213.0.3) net=10.213.0.0/24
for f in /run/netns/lgns-*-sw; do
  [ -e "$f" ] || continue
  old=${f#/run/netns/lgns-}; old=${old%-sw}
  kill -0 "$old" 2>/dev/null && continue
  for n in "lgns-$old-1" "lgns-$old-2" "lgns-$old-3" "lgns-$old-sw"; do ip netns del "$n" 2>/dev/null; done
done
job=
cleanup() {
  # mpirun first (timeout hands it the TERM), so it takes its daemons down;
  # then whatever is still inside the namespaces, by pid.
  [ -n "$job" ] && kill -TERM "$job" 2>/dev/null
  local n p left t
  for ((t = 0; t < 25; t++)); do
    left=
    for n in "${ns[@]}"; do left+=$(ip netns pids "$n" 2>/dev/null); done
    [ -z "$left" ] && break
    sleep 0.2
  done
  for n in "${ns[@]}" "$sw"; do
    for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$n" 2>/dev/null
  done
  [ -n "$job" ] && kill -KILL "$job" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 129' HUP
# Made inside the switch: a veth's host end is moved straight into its host,
# so no link or address ever appears in the root namespace. No IPv6, so no
# link-local addresses either: 10.213.0.x is each host's one address.
no_ipv6() {
  [ ! -d /proc/sys/net/ipv6 ] ||
    ip netns exec "$1" sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6 &&
                              echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6'
}
netup() {
  ip netns add "$sw" && no_ipv6 "$sw" && ip -n "$sw" link set lo up &&
    ip -n "$sw" link add br0 type bridge && ip -n "$sw" link set br0 up || return
  local i
  for i in 0 1 2; do
    ip netns add "${ns[i]}" && no_ipv6 "${ns[i]}" && ip -n "${ns[i]}" link set lo up &&
      ip -n "$sw" link add "p$i" type veth peer name eth0 netns "${ns[i]}" &&
      ip -n "$sw" link set "p$i" master br0 up &&
      ip -n "${ns[i]}" addr add "${addr[i]}/24" dev eth0 &&
      ip -n "${ns[i]}" link set eth0 up || return
  done
}
if ! netup 2>"$tmp/net.err"; then
  skip_absent mpi_netns "cannot make network namespaces, veths and a bridge here: $(head -1 "$tmp/net.err")"
  finish; exit
fi

# ---- the launcher: ssh's calling convention, a namespace for a machine ----------
# Open MPI calls it as ssh: [options] HOST COMMAND...; each host also gets its
# own hostname (a UTS namespace), so Open MPI's per-host names and session
# directories differ as on real machines. Any other host is refused.
cat >"$tmp/agent" <<EOF
#!/bin/sh
while [ \$# -gt 0 ]; do case \$1 in -*) shift ;; *) break ;; esac; done
case \$1 in
  ${addr[0]}) n=${ns[0]} ;;
  ${addr[1]}) n=${ns[1]} ;;
  ${addr[2]}) n=${ns[2]} ;;
  *) echo "agent: \$1 is not one of this test's hosts" >&2; exit 255 ;;
esac
shift
exec ip netns exec "\$n" unshare --uts sh -c 'hostname "\$0" && exec sh -c "\$1"' "\$n" "\$*"
EOF
chmod +x "$tmp/agent"
printf '%s slots=1\n' "${addr[@]}" >"$tmp/hosts"
# TCP between ranks only (ob1 over the tcp btl: no shared memory, no UCX),
# every daemon launched by mpirun itself through the agent (no tree spawn).
opts=(--allow-run-as-root --hostfile "$tmp/hosts" -np 3 --bind-to none
      --mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include "$net")
if [ "$ompi" -ge 5 ]; then
  opts+=(--prtemca plm ssh --prtemca plm_ssh_agent "$tmp/agent" --prtemca plm_ssh_no_tree_spawn 1
         --prtemca oob_tcp_if_include "$net")
else
  opts+=(--mca plm rsh --mca plm_rsh_agent "$tmp/agent" --mca plm_rsh_no_tree_spawn 1
         --mca oob_tcp_if_include "$net")
fi
# LIMIT OUT ERR ARGS...: mpirun in the first host's namespace, in the
# background so a signal reaches the trap at once; a hang becomes a FAIL.
mpirun_ns() {
  local limit=$1 out=$2 err=$3; shift 3
  timeout -k 5 "$limit" ip netns exec "${ns[0]}" unshare --uts \
    sh -c 'hostname "$0" && exec "$@"' "${ns[0]}" mpirun "${opts[@]}" "$@" >"$out" 2>"$err" &
  job=$!
  wait "$job"; local rc=$?
  job=; return $rc
}
died() { # RC LIMIT ERR: why mpirun failed, for the FAIL line
  if [ "$1" -eq 124 ]; then echo "mpirun still running after $2 s, stopped"
  else echo "mpirun exited $1: $(tail -c 400 "$3" | tr '\n' ' ')"; fi
}

# ---- one rank in each namespace -------------------------------------------------
want=$(for n in "${ns[@]}"; do echo "$n $(ip netns exec "$n" readlink /proc/self/ns/net)"; done | sort)
mpirun_ns 60 "$tmp/where" "$tmp/where.err" sh -c 'echo "$(hostname) $(readlink /proc/self/ns/net)"'
rc=$?
if [ "$rc" -ne 0 ]; then
  fail hosts_distinct "$(died $rc 60 "$tmp/where.err")"
  finish; exit
fi
got=$(sort "$tmp/where")
if [ "$got" = "$want" ]; then pass "hosts_distinct (${ns[*]})"
else fail hosts_distinct "ranks ran in [$(echo $got)], want [$(echo $want)]"; fi

# ---- training over TCP from a streamed source -----------------------------------
mkdir -p "$tmp/lmdb" && python3 "$(dirname "$0")/make_lmdb.py" --generate 28 --n 200 | mdb_load "$tmp/lmdb" ||
  { fail setup "make_lmdb.py | mdb_load failed"; finish; exit; }
args=(train --data "lsun:$tmp/lmdb" --preset tiny --batch 8 --threads 1 --seed 3 --steps 6)
"$mpi" "${args[@]}" --quiet --out "$tmp/one" 2>"$tmp/one.err" &
job=$!; wait "$job"; rc=$?; job=
[ "$rc" -eq 0 ] || { fail setup "single-process run failed: $(tail -c 300 "$tmp/one.err")"; finish; exit; }
# Progress lines on: ranks 1 and 2 send theirs to rank 0 over the wire.
mpirun_ns 120 "$tmp/three.out" "$tmp/three.err" "$mpi" "${args[@]}" --log-every 3 --out "$tmp/three"
rc=$?
if [ "$rc" -ne 0 ]; then
  fail np3_over_tcp "$(died $rc 120 "$tmp/three.err")"
else
  n=$(grep -c '^level [0-2]  step' "$tmp/three.err")
  levels=$(grep -o '^level [0-2]' "$tmp/three.err" | sort -u | wc -l)
  if [ "$n" -eq 6 ] && [ "$levels" -eq 3 ] && grep -q '^3 processes (mpi): ' "$tmp/three.err"; then
    pass np3_over_tcp
  else fail np3_over_tcp "$n progress lines, $levels levels: $(head -c 400 "$tmp/three.err")"; fi
fi
if "$bin" diff "$tmp/one" "$tmp/three" --tol 0 >"$tmp/diff" 2>&1; then pass np3_bit_identical
else fail np3_bit_identical "$(tr '\n' ' ' <"$tmp/diff")"; fi
finish
