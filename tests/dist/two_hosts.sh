#!/usr/bin/env bash
# two_hosts.sh: a 2-rank chirp job across two "hosts" on this machine: two
# network namespaces joined by a veth pair (10.77.N.1 and .2), each with
# its own hostname (a UTS namespace), so Open MPI treats them as separate
# nodes and the ranks talk over TCP, not shared memory. mpirun runs in the
# first; it starts the second host's daemon through an rsh agent that
# enters the other namespace instead of ssh.
#
# usage: tests/dist/two_hosts.sh [--rate 1gbit] [--delay 1ms] [--drop-after S] -- CHIRP_BIN train ARGS...
#   --rate R         limit both ends of the link to R (tc tbf)
#   --delay D        add D of latency each way (tc netem, where the kernel has it)
#   --drop-after S   take the link down S seconds after the start (fault test)
# Exits with mpirun's status; exits 77 when namespaces cannot be made here.
# Only the project's own namespaces are touched, and removed on exit.
set -u
rate="" delay="" drop=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) rate=$2; shift 2 ;;
    --delay) delay=$2; shift 2 ;;
    --drop-after) drop=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "two_hosts.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ $# -ge 1 ] || { echo "usage: $0 [--rate R] [--delay D] [--drop-after S] -- CHIRP_BIN train ARGS..." >&2; exit 2; }

id=$$
net=$(( id % 200 + 20 ))
a=chirp-a-$id b=chirp-b-$id va=ca$id vb=cb$id
work=$(mktemp -d)
cleanup() {
  ip netns del "$a" 2>/dev/null
  ip netns del "$b" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

if ! command -v ip >/dev/null || ! unshare --uts true 2>/dev/null || ! ip netns add "$a" 2>/dev/null ||
   ! ip netns add "$b" 2>/dev/null; then
  echo "two_hosts.sh: cannot create network namespaces here (needs root and CAP_SYS_ADMIN); skipping"
  exit 77
fi
if ! ip link add "$va" type veth peer name "$vb" 2>/dev/null; then
  echo "two_hosts.sh: cannot create a veth pair here; skipping"
  exit 77
fi
ip link set "$va" netns "$a"
ip link set "$vb" netns "$b"
ip -n "$a" addr add "10.77.$net.1/24" dev "$va"
ip -n "$b" addr add "10.77.$net.2/24" dev "$vb"
for ns in "$a" "$b"; do ip -n "$ns" link set lo up; done
ip -n "$a" link set "$va" up
ip -n "$b" link set "$vb" up
# Shaping: netem for the delay (a parent qdisc) when the kernel has it,
# tbf for the rate (a token bucket with a burst of a few packets).
shape_end() {
  local ns=$1 dev=$2 parent=root
  if [ -n "$delay" ]; then
    if tc -n "$ns" qdisc add dev "$dev" root handle 1: netem delay "$delay" 2>/dev/null; then
      parent="parent 1:"
    else
      echo "two_hosts.sh: note: this kernel has no netem (tc); --delay $delay is not applied" >&2
    fi
  fi
  if [ -n "$rate" ] && ! tc -n "$ns" qdisc add dev "$dev" $parent handle 2: tbf rate "$rate" burst 256kb latency 100ms; then
    echo "two_hosts.sh: cannot shape the link to $rate (tc tbf)" >&2
    exit 2
  fi
}
shape_end "$a" "$va"
shape_end "$b" "$vb"

cat > "$work/hostfile" <<HOSTS
10.77.$net.1 slots=1
10.77.$net.2 slots=1
HOSTS
# mpirun calls: agent HOST COMMAND (as it would call ssh); the command is a
# shell string, run in the second host's namespaces like ssh would.
cat > "$work/agent" <<AGENT
#!/bin/sh
shift
exec ip netns exec $b unshare --uts sh -c "hostname host-b; \$*"
AGENT
chmod +x "$work/agent"

if [ -n "$drop" ]; then
  ( sleep "$drop"; ip -n "$a" link set "$va" down; ip -n "$b" link set "$vb" down ) &
fi
# Variables the ranks need, forwarded to the other host's ranks as ssh would not.
forward=""
for v in OMP_NUM_THREADS OMP_WAIT_POLICY ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS; do
  [ -n "${!v:-}" ] && forward="$forward -x $v"
done
# btl tcp,self: no shared memory between the ranks, even by accident.
# Short TCP keep-alives: mpirun notices a host it cannot reach in seconds,
# not the default ~8 minutes, and ends the job.
ip netns exec "$a" unshare --uts sh -c "hostname host-a; exec mpirun --allow-run-as-root --hostfile $work/hostfile \
  -np 2 --map-by node --bind-to none --mca plm_rsh_agent $work/agent --mca btl tcp,self \
  --mca btl_tcp_if_include 10.77.$net.0/24 --mca oob_tcp_if_include 10.77.$net.0/24 \
  --mca oob_tcp_keepalive_time 3 --mca oob_tcp_keepalive_intvl 1 --mca oob_tcp_keepalive_probes 3 \
  $forward $(printf '%q ' "$@")"
