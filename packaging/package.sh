#!/usr/bin/env bash
# Builds the .deb of the default flavor (cpack in build/release, after packaging/build.sh) and
# checks it: lintian, desktop-file-validate and appstreamcli validate (an error from any of them
# fails). With --install it then installs the package on this machine with apt-get, as a user
# would on a fresh Debian 12, and checks that the CLI finds the bundled models under
# /usr/share/sdestudio and that the studio starts from its menu entry's Exec line (offscreen) and
# loads the bundled model; the package is removed again at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
install_check=0
[ "${1:-}" = "--install" ] && install_check=1

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
missing=()
for package in lintian desktop-file-utils appstream dpkg-dev; do
    dpkg -s "$package" > /dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    $sudo apt-get update -q
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

desktop-file-validate resources/io.github.sdestudio.SDEStudio.desktop
appstreamcli validate --no-net resources/io.github.sdestudio.SDEStudio.metainfo.xml

rm -f build/release/sdestudio_*.deb
(cd build/release && cpack -G DEB)
deb=$(ls build/release/sdestudio_*.deb)
lintian --fail-on error "$deb"
# Each program has its manual page (a build without help2man would drop the CLI's quietly).
contents=$(dpkg-deb -c "$deb") # (grep -q on the pipe would cut dpkg-deb short: pipefail)
for page in sdestudio sdestudio-cli; do
    if ! grep -q "/usr/share/man/man1/$page.1.gz$" <<<"$contents"; then
        echo "package: $deb has no manual page for $page" >&2
        exit 1
    fi
done
echo "package: $deb ($(du -h "$deb" | cut -f1)), lintian: no errors"

[ "$install_check" = 1 ] || exit 0
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
# Its dependencies come from the package lists, which a fresh machine may not have yet.
$sudo apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "./$deb"
# Removed again however the check ends (a failed removal does not fail it).
trap '$sudo apt-get remove -y -q sdestudio > /dev/null 2>&1 || true; rm -rf "$home"' EXIT
# The installed programs, with nothing of the checkout in their environment.
cd /
info=$(env -u SDE_PRESETS_DIR -u SDE_MODELS_DIR /usr/bin/sdestudio-cli info fashion-mnist 2>&1) || true
if ! grep -q "/usr/share/sdestudio/bundled/fashion-mnist/model.safetensors" <<< "$info"; then
    echo "package: the installed sdestudio-cli did not find the bundled model under /usr/share/sdestudio:" >&2
    echo "$info" >&2
    exit 1
fi
desktop-file-validate /usr/share/applications/io.github.sdestudio.SDEStudio.desktop
appstreamcli validate --no-net /usr/share/metainfo/io.github.sdestudio.SDEStudio.metainfo.xml
exec_line=$(sed -n 's/^Exec=//p' /usr/share/applications/io.github.sdestudio.SDEStudio.desktop | sed 's/ %[fFuU]//')
status=0
env -u SDE_PRESETS_DIR -u SDE_MODELS_DIR HOME="$home" XDG_DATA_HOME="$home/data" XDG_CONFIG_HOME="$home/config" \
    QT_QPA_PLATFORM=offscreen timeout 20 $exec_line > "$home/out.txt" 2>&1 || status=$?
log="$home/data/SDE Studio/SDE Studio/sdestudio.log"
# Still running after 20 s (timeout's 124) with the bundled model loaded: it started.
if [ "$status" -ne 124 ] || ! grep -q "loaded /usr/share/sdestudio/bundled/fashion-mnist/model.safetensors" "$log"; then
    echo "package: '$exec_line' did not start with the bundled model (exit $status)" >&2
    cat "$home/out.txt" "$log" >&2 || true
    exit 1
fi
echo "package: installed with apt-get; sdestudio-cli found the bundled models; '$exec_line' started and loaded fashion-mnist"
