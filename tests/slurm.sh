#!/bin/sh
# slurm.sh - examples/slurm/duo-corpus.sbatch on a real Slurm: a private
# one-node cluster (munged, slurmctld and slurmd as root, a generated
# slurm.conf and munge key in a temporary folder), the example job array
# over a text of the fixture in 4 shards, "duo merge --join-shards" as a
# job that depends on it, and the merged run's every loss against a run of
# the whole text on one thread, as each task runs (tolerance 1e-6 nats;
# on the same thread count the sums are the same and the losses equal).
# Every daemon started is stopped by its PID on every way out.
#
# Environment: DUO, srcdir.  Exit 0 pass, 1 fail, 77 without Slurm, munge
# or sqlite3, or when not root; 99 when the cluster does not come up.
set -u
: "${DUO:=./duo}"
: "${srcdir:=.}"
for tool in sbatch squeue sinfo slurmctld slurmd munged sqlite3; do
	command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
	command -v "$tool" >/dev/null 2>&1 ||
	    { echo "SKIP: no $tool"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: slurmd and munged run as root"; exit 77; }
DUO=$(cd "$(dirname "$DUO")" && pwd)/$(basename "$DUO")
src=$(cd "$srcdir" && pwd)
tmp=$(mktemp -d /tmp/duo-slurm.XXXXXX) || exit 99
chmod 755 "$tmp"
pids=""
stop() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1; i=$((i + 1))
		done
		kill -9 "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap stop EXIT
trap 'exit 99' INT TERM HUP
. "$src/tests/lib.sh"
cd "$tmp" || exit 99
mkdir -p state spool munge && chmod 700 munge
dd if=/dev/urandom of=munge/key bs=1024 count=1 2>/dev/null
chmod 600 munge/key
host=$(hostname -s)
# ports of their own, apart from a cluster the machine may run
port=$((20000 + $$ % 20000))
cat >slurm.conf <<CONF
ClusterName=duotest
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$tmp/munge/sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=duotest Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
SLURM_CONF=$tmp/slurm.conf; export SLURM_CONF

# waitfile FILE: up to 10 s for a daemon's PID file
waitfile() {
	i=0
	while [ ! -s "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -s "$1" ] || { echo "ERROR: no $1"; cat "$tmp"/*.log; exit 99; }
	pids="$pids $(cat "$1")"
}
munged --socket="$tmp/munge/sock" --key-file="$tmp/munge/key" \
    --pid-file="$tmp/munge/pid" --log-file="$tmp/munge/log" \
    --seed-file="$tmp/munge/seed" -f || exit 99
waitfile munge/pid
slurmctld -f "$tmp/slurm.conf" || exit 99
waitfile slurmctld.pid
slurmd -f "$tmp/slurm.conf" || exit 99
waitfile slurmd.pid
i=0
until sinfo -h -o %T 2>/dev/null | grep -q idle; do
	i=$((i + 1))
	[ $i -lt 300 ] || { echo "ERROR: the node is not idle"; sinfo; exit 99; }
	sleep 0.1
done

cp "$src/tests/texts/travels.txt" text.txt
DUO_MODEL=$src/tests/fixture.gguf; export DUO DUO_MODEL
array=$(sbatch --parsable --array=1-4 --cpus-per-task=1 \
    -o "$tmp/task-%a.log" "$src/examples/slurm/duo-corpus.sbatch" \
    "$tmp/text.txt" "$tmp/shards") || { echo "ERROR: sbatch"; exit 99; }
echo "submitted the array: job $array"
merge=$(sbatch --parsable --dependency=afterok:"$array" -o "$tmp/merge.log" \
    --wrap "$DUO merge --join-shards $tmp/all.db $tmp/shards/shard-*.db") ||
	{ echo "ERROR: sbatch of the merge"; exit 99; }
echo "submitted the merge: job $merge, after $array"
i=0
while squeue -h -j "$array,$merge" 2>/dev/null | grep -q .; do
	i=$((i + 1))
	[ $i -lt 1200 ] || { fail "the jobs did not end in 120 s"; break; }
	sleep 0.1
done
cat task-*.log merge.log
grep -q "joined from 4 shards" merge.log || fail "the merge job did not join"

OMP_NUM_THREADS=1 "$DUO" run -d single.db text.txt >/dev/null || exit 99
q() { sqlite3 all.db "ATTACH 'single.db' AS s; $1"; }
n=$(q "SELECT count(*) FROM results a JOIN s.results b ON b.run_id = 1
    AND a.pos = b.pos AND a.method = b.method AND a.budget = b.budget
    WHERE a.route IS NOT b.route OR abs(a.loss - b.loss) > 1e-6")
[ "$n" = 0 ] || fail "$n results of the merged run differ from one machine's"
[ "$(q "SELECT count(*) FROM results")" = \
    "$(q "SELECT count(*) FROM s.results")" ] || fail "result counts differ"
echo "merged run against one machine's: largest difference" \
    "$(q "SELECT max(abs(a.loss - b.loss)) FROM results a JOIN s.results b
    ON b.run_id = 1 AND a.pos = b.pos AND a.method = b.method
    AND a.budget = b.budget")"
ok
echo "$checks checks, $failures failures"
[ "$failures" -eq 0 ]
