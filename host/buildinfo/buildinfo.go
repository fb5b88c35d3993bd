// Package buildinfo says which build of quantfit is running: the module's
// version and the VCS revision that the go command stamped into the binary.
package buildinfo

import (
	"fmt"
	"runtime/debug"
)

// Info describes a build.
type Info struct {
	// Version is the main module's version: a tag, a pseudo-version of the
	// commit (with +dirty for a modified tree), or "(devel)".
	Version string `json:"version"`
	// Revision is the VCS commit, Time its time (RFC 3339), Modified whether
	// the tree had changes; empty and false where the build had no VCS
	// information (go run, -buildvcs=false).
	Revision string `json:"revision"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified"`
	// Go is the toolchain's version.
	Go string `json:"go"`
}

// Read returns the running binary's build.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "unknown"}
	}
	return FromBuildInfo(bi)
}

// FromBuildInfo extracts Info from a binary's build information (as
// debug/buildinfo reads it from a file).
func FromBuildInfo(bi *debug.BuildInfo) Info {
	in := Info{Version: bi.Main.Version, Go: bi.GoVersion}
	if in.Version == "" {
		in.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is the one line `quantfit version` prints.
func (in Info) String() string {
	rev := in.Revision
	if rev == "" {
		rev = "unknown"
	}
	if in.Modified {
		rev += " (modified)"
	}
	return fmt.Sprintf("quantfit %s, revision %s, %s", in.Version, rev, in.Go)
}
