#!/bin/sh
# Brings up a single-node Slurm (munged, slurmctld, slurmd, all in WORK, all
# as root, on free ports), runs `batchscope audit --shard` as an array job
# of PARTS tasks and the merge as a job that depends on it (afterok), waits,
# and stops everything again. The merged report is WORK/report.json.
# Usage: slurm_cluster.sh BATCHSCOPE WORK DATASET PIPELINE PARTS
set -eu
BS=$1 W=$2 DATA=$3 PIPE=$4 PARTS=$5
[ "$(id -u)" -eq 0 ] || { echo "slurm_cluster.sh: needs root (munged and slurmd)" >&2; exit 77; }
for t in munged slurmctld slurmd sbatch squeue; do
    command -v $t >/dev/null 2>&1 || [ -x /usr/sbin/$t ] || { echo "slurm_cluster.sh: $t not installed" >&2; exit 77; }
done
PATH=$PATH:/usr/sbin
mkdir -p "$W/munge" "$W/ctld" "$W/d" "$W/log" "$W/out"
chmod 700 "$W/munge"
# Stops the daemons this script started (by their pid files) and waits.
stop() {
    for f in "$W/slurmd.pid" "$W/slurmctld.pid" "$W/munge/munged.pid"; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        kill "$pid" 2>/dev/null || continue
        n=0
        while kill -0 "$pid" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    done
}
trap stop EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
dd if=/dev/urandom of="$W/munge/munge.key" bs=1024 count=1 2>/dev/null
chmod 400 "$W/munge/munge.key"
munged --force --key-file="$W/munge/munge.key" --socket="$W/munge/munge.socket" \
    --pid-file="$W/munge/munged.pid" --log-file="$W/munge/munged.log" --seed-file="$W/munge/seed"

HOST=$(hostname -s)
cat > "$W/slurm.conf" <<CONF
ClusterName=bstest
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
AuthInfo=socket=$W/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$W/ctld
SlurmdSpoolDir=$W/d
SlurmctldPidFile=$W/slurmctld.pid
SlurmdPidFile=$W/slurmd.pid
SlurmctldLogFile=$W/log/slurmctld.log
SlurmdLogFile=$W/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
NodeName=bsnode NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=bsnode Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$W/slurm.conf"
slurmctld -i -f "$SLURM_CONF"
slurmd -N bsnode -f "$SLURM_CONF"

# The node registers within a few seconds.
i=0
until sinfo -h -o %t 2>/dev/null | grep -q idle; do
    i=$((i + 1))
    if [ $i -gt 60 ]; then
        echo "slurm_cluster.sh: the node never became idle:" >&2
        sinfo >&2 || true
        tail -5 "$W/log/slurmctld.log" "$W/log/slurmd.log" >&2 || true
        exit 1
    fi
    sleep 1
done

# The two scripts of docs/cluster.md, as they are in scripts/cluster/.
SCRIPTS=$(dirname "$0")/../../scripts/cluster
export BATCHSCOPE="$BS" DATASET="$DATA" PIPELINE="$PIPE" OUT="$W"
LAST=$((PARTS - 1))
ARRAY=$(sbatch --parsable --array=0-$LAST --output="$W/out/audit-%a.log" --chdir="$W" "$SCRIPTS/audit-array.sbatch")
MERGE=$(sbatch --parsable --dependency=afterok:$ARRAY --output="$W/out/merge.log" --chdir="$W" "$SCRIPTS/merge.sbatch")
echo "array job $ARRAY, merge job $MERGE"

i=0
while squeue -h -j "$ARRAY,$MERGE" 2>/dev/null | grep -q .; do
    i=$((i + 1))
    if [ $i -gt 600 ]; then
        echo "slurm_cluster.sh: jobs still queued after 600 s" >&2
        squeue >&2 || true
        exit 1
    fi
    sleep 1
done
cat "$W"/out/*.log
[ -f "$W/report.json" ] || { echo "slurm_cluster.sh: the merge job wrote no report" >&2; exit 1; }
echo "merged report written"
