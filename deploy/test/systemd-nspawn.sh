#!/usr/bin/env bash
# Boots a real systemd (systemd-nspawn -b on a debootstrap root) with the hub installed
# by deploy/install.sh, and runs the unit for real: start as the service user under its
# hardening, /health, journald priorities (journalctl -p), reload (SIGHUP), stop.
# Needs root, debootstrap, systemd-container and a PostgreSQL on 127.0.0.1:5432 (trust).
# Not part of npm test (it downloads a Debian base system once); results in $OUT.
#
#   sudo deploy/test/systemd-nspawn.sh [ROOTFS] [OUT]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
R=${1:-/var/tmp/hub-nspawn-root}
OUT=${2:-/tmp/hub-nspawn-results}
DB=hive_nspawn_$$
[ -x "$R/lib/systemd/systemd" ] || debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,libstdc++6,ca-certificates,procps bookworm "$R" http://deb.debian.org/debian
rm -rf "$OUT"; mkdir -p "$OUT"
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB" -c "DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ai_orchestrator') THEN CREATE ROLE ai_orchestrator LOGIN; END IF; END\$\$" -c "CREATE DATABASE $DB OWNER ai_orchestrator"

# Every run installs afresh: no configuration or secrets kept from a previous run.
rm -rf "$R/etc/ai-orchestrator-hub" "$R/var/lib/ai-orchestrator-hub" "$R/var/log/ai-orchestrator-hub" "$R"/var/log/journal/*
# Node.js and npm of the host, read-only in the container (Debian 12's own nodejs is 18).
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$R/usr/bin/npm"
touch "$R/usr/bin/node"
BINDS=(--bind-ro=/usr/bin/node --bind-ro=/usr/lib/node_modules --bind-ro="$SRC":/src --bind="$OUT":/results)
systemd-nspawn -q --register=no --keep-unit -D "$R" "${BINDS[@]}" /src/deploy/install.sh --no-systemctl > "$OUT/install.log" 2>&1
cat >> "$R/etc/ai-orchestrator-hub/env" <<ENV
DATABASE_URL=postgres://ai_orchestrator@127.0.0.1:5432/$DB
HIVE_SECURITY_ADMIN_PASSWORD=nspawn admin password
ENV
sed -i 's#^\[logging\]#[logging]\nfile = "/var/log/ai-orchestrator-hub/hub.log"#' "$R/etc/ai-orchestrator-hub/production.toml"
mkdir -p "$R/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/ai-orchestrator-hub.service "$R/etc/systemd/system/multi-user.target.wants/ai-orchestrator-hub.service"
cat > "$R/etc/systemd/system/hubcheck.service" <<'UNIT'
[Unit]
Description=checks the hub from inside the container, then powers off
After=ai-orchestrator-hub.service
[Service]
Type=oneshot
ExecStart=/bin/bash /usr/local/bin/hubcheck
ExecStopPost=/bin/systemctl poweroff --no-block
UNIT
ln -sf /etc/systemd/system/hubcheck.service "$R/etc/systemd/system/multi-user.target.wants/hubcheck.service"
cat > "$R/usr/local/bin/hubcheck" <<'CHECK'
#!/bin/bash
exec > /results/check.txt 2>&1
health() { node -e "fetch('http://127.0.0.1:3001/health').then(r => r.json()).then(b => { console.log(b.data.status); process.exit(0) }, () => process.exit(1))"; }
for _ in $(seq 1 60); do health && break; sleep 1; done
echo "== journal"; journalctl -u ai-orchestrator-hub -o cat --no-pager | head -n 40
echo "== show"; systemctl show ai-orchestrator-hub -p ActiveState -p SubState -p User -p NRestarts -p MainPID
echo "== process"; ps -o user=,comm=,args= -p "$(systemctl show -p MainPID --value ai-orchestrator-hub)"
echo "== journal warning and above"; journalctl -u ai-orchestrator-hub -p warning -o cat --no-pager
echo "== journal err and above (expected empty)"; journalctl -u ai-orchestrator-hub -p err -o cat --no-pager
echo "== journal priorities"; journalctl -u ai-orchestrator-hub -o json --no-pager | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const c={};for(const l of s.split('\n').filter(Boolean)){const j=JSON.parse(l);if(!String(j.MESSAGE).startsWith('{'))continue;const r=JSON.parse(j.MESSAGE);const k=r.level+'='+j.PRIORITY;c[k]=(c[k]||0)+1}console.log(JSON.stringify(c))})"
echo "== reload"; systemctl reload ai-orchestrator-hub; sleep 1; grep -c '"event":"log.reopened"' /var/log/ai-orchestrator-hub/hub.log
echo "== state dir"; ls -ld /var/lib/ai-orchestrator-hub /var/log/ai-orchestrator-hub
echo "== stop"; systemctl stop ai-orchestrator-hub; systemctl show ai-orchestrator-hub -p Result -p ExecMainStatus -p ActiveState
journalctl -u ai-orchestrator-hub -o cat --no-pager | tail -n 3
echo "== a broken configuration: the start fails at priority err"
cp /etc/ai-orchestrator-hub/production.toml /root/production.toml.good
echo 'bogus = 1' >> /etc/ai-orchestrator-hub/production.toml
systemctl start ai-orchestrator-hub; sleep 4; systemctl stop ai-orchestrator-hub
echo "err records: $(journalctl -u ai-orchestrator-hub -p err -o cat --no-pager | grep -c 'server.bogus: unknown key')"
cp /root/production.toml.good /etc/ai-orchestrator-hub/production.toml
echo "== security"; systemd-analyze security ai-orchestrator-hub.service --no-pager | tail -n 1
echo "== done"
CHECK
chmod +x "$R/usr/local/bin/hubcheck"
timeout 300 systemd-nspawn -q --register=no --keep-unit -D "$R" "${BINDS[@]}" -b --console=pipe > "$OUT/boot.log" 2>&1 || true
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
cat "$OUT/check.txt"
grep -q '^ActiveState=active' "$OUT/check.txt" && grep -q '^err records: [1-9]' "$OUT/check.txt" && grep -q '^ExecMainStatus=0' "$OUT/check.txt" && grep -q '^== done' "$OUT/check.txt"
