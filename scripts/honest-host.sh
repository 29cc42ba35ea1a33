#!/usr/bin/env bash
# Runs a command as if this host lacked some packages, to check that tests
# derive host facts instead of assuming them. Root only: it uses a private
# mount namespace (unshare -m), so nothing changes for other processes.
#
#   bash scripts/honest-host.sh [--no-ovmf] [--no-swtpm] [--no-passt] [--no-kvm] -- CMD...
#   e.g. bash scripts/honest-host.sh --no-ovmf --no-swtpm -- npx vitest run test/drivers/qemu-domains/virt-install-corpus.test.ts
#
# --no-ovmf   empties the firmware descriptor folders (/usr/share/qemu/firmware, /etc/qemu/firmware)
# --no-swtpm  swtpm and swtpm_setup exit 127, as a missing command would
# --no-passt  the same for passt
# --no-kvm    /dev/kvm becomes /dev/null: it opens, but is no KVM (QEMU's -accel kvm fails)
set -euo pipefail
hide=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-ovmf) hide+=(ovmf) ;;
    --no-swtpm) hide+=(swtpm) ;;
    --no-passt) hide+=(passt) ;;
    --no-kvm) hide+=(kvm) ;;
    --) shift; break ;;
    *) echo "honest-host: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ $# -gt 0 ] || { echo "honest-host: no command given (after --)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "honest-host: needs root (a private mount namespace)" >&2; exit 1; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/empty"
printf '#!/bin/sh\necho "$0: hidden by honest-host.sh" >&2\nexit 127\n' >"$scratch/missing"
chmod 755 "$scratch/missing"

export HONEST_HIDE="${hide[*]:-}" HONEST_SCRATCH="$scratch"
unshare -m --propagation private bash -c '
  set -eu
  for what in $HONEST_HIDE; do
    case "$what" in
      ovmf) for d in /usr/share/qemu/firmware /etc/qemu/firmware; do
              [ -d "$d" ] && mount --bind "$HONEST_SCRATCH/empty" "$d"; done ;;
      swtpm) for b in swtpm swtpm_setup; do
               p=$(command -v "$b" || true); [ -n "$p" ] && mount --bind "$HONEST_SCRATCH/missing" "$p"; done ;;
      passt) p=$(command -v passt || true); [ -n "$p" ] && mount --bind "$HONEST_SCRATCH/missing" "$p" ;;
      kvm) [ -e /dev/kvm ] && mount --bind /dev/null /dev/kvm ;;
    esac
  done
  exec "$@"
' honest-host "$@"
