#!/usr/bin/env bash
# Install the Debian packages that `make demo` and `make test` need, or say the one command to
# run. Usage: scripts/system-deps.sh [demo|test] [--check]
#   demo     what `make demo` needs: tesseract with English data (OCR is on by default)
#   test     (default) everything the test suite starts: PostgreSQL, Orthanc (+DICOMweb, GDCM),
#            tesseract, DCMTK, GDCM tools, Redis, DejaVu fonts (the screen generator, burned-in text),
#            nginx (the TLS front of Orthanc's DICOMweb with client certificates)
#   --check  install nothing; exit 1 with the command when something is missing
# Installs with apt-get as root or with passwordless sudo; otherwise it installs nothing, prints
# the single command to run and exits 1. Nothing missing: exits 0 at once (safe to call always).
set -euo pipefail

profile=test
check_only=0
for arg in "$@"; do
  case "$arg" in
    demo | test) profile="$arg" ;;
    --check) check_only=1 ;;
    -h | --help)
      sed -n '2,10p' "$0"
      exit 0
      ;;
    *)
      echo "system-deps.sh: unknown argument '$arg' (use demo, test, --check)" >&2
      exit 2
      ;;
  esac
done

packages=(tesseract-ocr tesseract-ocr-eng)
if [ "$profile" = test ]; then
  packages+=(postgresql orthanc orthanc-dicomweb orthanc-gdcm dcmtk libgdcm-tools redis-server
    fonts-dejavu-core nginx-light)
fi

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps.sh: not a Debian/Ubuntu system (no apt-get); install these with your" \
    "package manager: ${packages[*]}" >&2
  exit 1
fi

missing=()
for pkg in "${packages[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

command_line="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
sudo_prefix=""
if [ "$(id -u)" -ne 0 ]; then
  if [ "$check_only" -eq 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo_prefix="sudo -n"
  else
    echo "Missing system packages: ${missing[*]}" >&2
    echo "Run once:  sudo sh -c '$command_line'" >&2
    exit 1
  fi
fi
if [ "$check_only" -eq 1 ]; then
  echo "Missing system packages: ${missing[*]}" >&2
  echo "Run once:  $command_line" >&2
  exit 1
fi

echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo_prefix env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo_prefix env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "${missing[@]}"
