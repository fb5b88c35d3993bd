# Sourced: puts Go 1.26 or newer on PATH, naming no download host. A
# machine without one gets its distribution's Go (Debian 12 ships 1.19),
# and that Go fetches the toolchain module golang.org/toolchain, the very
# module the go command's own toolchain switch uses, through whatever
# module proxy the machine has configured (GOPROXY).
need=1.26
ver=go1.26.8
version_ok() {
	[ "$(printf '%s\n%s\n' "$need" "$1" | sort -V | head -1)" = "$need" ]
}
have_go() {
	command -v go >/dev/null 2>&1 || return 1
	version_ok "$(go env GOVERSION | sed 's/^go//')"
}
if ! have_go && [ -x /usr/local/go/bin/go ]; then
	export PATH=/usr/local/go/bin:$PATH
fi
if ! have_go; then
	if ! command -v go >/dev/null 2>&1; then
		apt-get update && apt-get install -y --no-install-recommends golang-go ca-certificates git
	fi
	arch=$(go env GOARCH)
	dir="$HOME/.cache/quantfit-go/$ver"
	if [ ! -x "$dir/bin/go" ]; then
		# outside this module: an old go would refuse go.mod's version line
		mod=$(cd "$(mktemp -d)" && GO111MODULE=on GOFLAGS= go mod download -json \
			"golang.org/toolchain@v0.0.1-$ver.linux-$arch" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
		if [ -n "$mod" ] && [ -f "$mod/bin/go" ]; then
			# the module cache keeps no execute bits: the go command's own
			# switch sets them as well
			mkdir -p "$(dirname "$dir")"
			cp -r "$mod" "$dir.tmp" && chmod -R u+w "$dir.tmp" &&
				chmod +x "$dir.tmp"/bin/* "$dir.tmp"/pkg/tool/*/* && mv "$dir.tmp" "$dir"
		fi
	fi
	if [ -x "$dir/bin/go" ]; then
		export PATH=$dir/bin:$PATH
		export GOTOOLCHAIN=local
	fi
	if ! have_go; then
		echo ".ci/go.sh: no Go $need or newer, and $ver could not be fetched through the module proxy ($(go env GOPROXY))" >&2
		return 1 2>/dev/null || exit 1
	fi
fi
