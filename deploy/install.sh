#!/usr/bin/env bash
# Installs ai-orchestrator-hub from this checkout (idempotent: run it again to upgrade).
#
#   sudo deploy/install.sh                 install or upgrade
#   sudo deploy/install.sh --uninstall     remove the program and the unit (keeps config and data)
#   sudo deploy/install.sh --uninstall --purge   also the config, the data and the user
#
# Layout:   /opt/ai-orchestrator-hub/                  the built program (root-owned, read-only)
#           /opt/ai-orchestrator-hub/ai-orchestrator-hub   the executable
#           /etc/ai-orchestrator-hub/production.toml   configuration (kept on upgrade)
#           /etc/ai-orchestrator-hub/env               secrets, 0600 (kept on upgrade)
#           /var/lib/ai-orchestrator-hub/              data_dir (0750, the service user's)
#           /etc/systemd/system/ai-orchestrator-hub.service
#           /etc/logrotate.d/ai-orchestrator-hub
# Options:  --prefix DIR (program), --etc DIR, --state DIR, --unit-dir DIR, --user NAME,
#           --root DIR: a root prefixed to every default path (tests, staging); the paths
#           written into the unit, the executable and production.toml include it.
#           --no-systemctl: do not run systemctl daemon-reload (no systemd running).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
ROOT=""
PREFIX="" ETC="" STATE="" UNIT_DIR="" LOGROTATE_DIR=""
SERVICE_USER=ai-orchestrator
UNINSTALL=0 PURGE=0 SYSTEMCTL=1

die() { echo "install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
    --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
    --etc) ETC=${2:?--etc needs a directory}; shift 2 ;;
    --state) STATE=${2:?--state needs a directory}; shift 2 ;;
    --unit-dir) UNIT_DIR=${2:?--unit-dir needs a directory}; shift 2 ;;
    --user) SERVICE_USER=${2:?--user needs a name}; shift 2 ;;
    --uninstall) UNINSTALL=1; shift ;;
    --purge) PURGE=1; shift ;;
    --no-systemctl) SYSTEMCTL=0; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

ROOT=${ROOT%/}
PREFIX=${PREFIX:-$ROOT/opt/ai-orchestrator-hub}
ETC=${ETC:-$ROOT/etc/ai-orchestrator-hub}
STATE=${STATE:-$ROOT/var/lib/ai-orchestrator-hub}
UNIT_DIR=${UNIT_DIR:-$ROOT/etc/systemd/system}
LOGROTATE_DIR=$ROOT/etc/logrotate.d
UNIT=$UNIT_DIR/ai-orchestrator-hub.service

[ "$(id -u)" = 0 ] || die "run as root (it creates the user $SERVICE_USER and installs under $PREFIX)"

reload_systemd() {
  if [ "$SYSTEMCTL" = 1 ] && [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
}

if [ "$UNINSTALL" = 1 ]; then
  if [ "$SYSTEMCTL" = 1 ] && [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then systemctl disable --now ai-orchestrator-hub.service 2>/dev/null || true; fi
  rm -rf "$PREFIX"
  rm -f "$UNIT" "$LOGROTATE_DIR/ai-orchestrator-hub"
  reload_systemd
  if [ "$PURGE" = 1 ]; then
    rm -rf "$ETC" "$STATE"
    if getent passwd "$SERVICE_USER" >/dev/null; then userdel "$SERVICE_USER"; fi
    if getent group "$SERVICE_USER" >/dev/null; then groupdel "$SERVICE_USER" 2>/dev/null || true; fi
    echo "removed $PREFIX, $ETC, $STATE, the unit and the user $SERVICE_USER"
  else
    echo "removed $PREFIX and the unit; kept $ETC, $STATE and the user $SERVICE_USER (--purge removes them)"
  fi
  exit 0
fi

command -v node >/dev/null || die "node (Node.js 20 or 22) is not on PATH"
command -v npm >/dev/null || die "npm is not on PATH"
NODE=$(command -v node)

# 1. The service user and group (system account, no shell, home = the state directory).
if ! getent group "$SERVICE_USER" >/dev/null; then groupadd --system "$SERVICE_USER"; fi
if ! getent passwd "$SERVICE_USER" >/dev/null; then
  useradd --system --gid "$SERVICE_USER" --home-dir "$STATE" --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
fi

# 2. Build in a staging copy (the checkout is left as it is), then install the build with
#    production dependencies only. The old program is replaced in one rename.
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/ai-orchestrator-hub-build.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
( cd "$SRC" && tar --exclude=./node_modules --exclude=./data --exclude=./dist --exclude=./.git --exclude='./test' --exclude='./bench/results' -cf - . ) | tar -C "$STAGE" -xf -
if [ -d "$SRC/node_modules" ]; then cp -a "$SRC/node_modules" "$STAGE/node_modules"; fi
(
  cd "$STAGE"
  export ONNXRUNTIME_NODE_INSTALL=skip
  [ -x node_modules/.bin/tsc ] || npm ci --no-audit --no-fund --loglevel=error
  npm run --silent build
  npm prune --omit=dev --no-audit --no-fund --loglevel=error
)
cat > "$STAGE/ai-orchestrator-hub" <<EOF
#!/bin/sh
# ai-orchestrator-hub: the installed hub (deploy/install.sh). Started by hand (not by
# systemd, which loads it itself), it reads the secrets of $ETC/env when it can.
if [ -z "\${INVOCATION_ID:-}" ] && [ -r "$ETC/env" ]; then set -a; . "$ETC/env"; set +a; fi
exec "\${NODE:-$NODE}" "$PREFIX/bin/ai-orchestrator-hub.js" "\$@"
EOF
chmod 0755 "$STAGE/ai-orchestrator-hub"
mkdir -p "$(dirname "$PREFIX")"
rm -rf "$PREFIX.new"
mv "$STAGE" "$PREFIX.new"
trap - EXIT
chown -R root:root "$PREFIX.new"
chmod -R u+rwX,go+rX,go-w "$PREFIX.new"
rm -rf "$PREFIX.old"
if [ -e "$PREFIX" ]; then mv "$PREFIX" "$PREFIX.old"; fi
mv "$PREFIX.new" "$PREFIX"
rm -rf "$PREFIX.old"

# 3. Configuration and secrets: created once, never overwritten.
install -d -m 0750 -o root -g "$SERVICE_USER" "$ETC"
if [ ! -e "$ETC/production.toml" ]; then
  sed "s#^data_dir = .*#data_dir = \"$STATE\"#" "$SRC/settings/production.toml" > "$ETC/production.toml"
  chown root:"$SERVICE_USER" "$ETC/production.toml"
  chmod 0640 "$ETC/production.toml"
fi
if [ ! -e "$ETC/env" ]; then
  umask 077
  {
    echo "# Secrets of ai-orchestrator-hub (systemd EnvironmentFile). Generated by deploy/install.sh."
    echo "HIVE_SECURITY_JWT_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
    echo "# DATABASE_URL=postgres://ai_orchestrator:PASSWORD@localhost:5432/hive_db"
    echo "# First start only (then remove it): the password of the admin user it creates."
    echo "# HIVE_SECURITY_ADMIN_PASSWORD="
  } > "$ETC/env"
  chown "$SERVICE_USER":"$SERVICE_USER" "$ETC/env"
  chmod 0600 "$ETC/env"
fi

# 4. State: the data directory.
install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE"

# 5. The unit and logrotate, with the paths installed to.
install -d -m 0755 "$UNIT_DIR" "$LOGROTATE_DIR"
sed -e "s#/opt/ai-orchestrator-hub#$PREFIX#g" -e "s#/etc/ai-orchestrator-hub#$ETC#g" -e "s#/var/lib/ai-orchestrator-hub#$STATE#g" \
  -e "s#^User=.*#User=$SERVICE_USER#" -e "s#^Group=.*#Group=$SERVICE_USER#" \
  "$SRC/deploy/systemd/ai-orchestrator-hub.service" > "$UNIT"
chmod 0644 "$UNIT"
sed -e "s#ai-orchestrator ai-orchestrator#$SERVICE_USER $SERVICE_USER#g" "$SRC/deploy/logrotate/ai-orchestrator-hub" > "$LOGROTATE_DIR/ai-orchestrator-hub"
chmod 0644 "$LOGROTATE_DIR/ai-orchestrator-hub"
reload_systemd

echo "installed ai-orchestrator-hub $("$PREFIX/ai-orchestrator-hub" --version) to $PREFIX"
echo "  configuration $ETC/production.toml, secrets $ETC/env, data $STATE, unit $UNIT"
echo "next: set DATABASE_URL (and HIVE_SECURITY_ADMIN_PASSWORD for the first start) in $ETC/env, then"
echo "  sudo -u $SERVICE_USER $PREFIX/ai-orchestrator-hub --config $ETC/production.toml --check"
echo "  sudo systemctl enable --now ai-orchestrator-hub"
