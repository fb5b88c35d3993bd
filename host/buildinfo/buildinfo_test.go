package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/quantfit/quantfit", Version: "v0.3.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-12-04T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	in := FromBuildInfo(bi)
	want := Info{Version: "v0.3.0", Revision: "abc123", Time: "2026-12-04T10:00:00Z", Modified: true, Go: "go1.26.8"}
	if in != want {
		t.Fatalf("got %+v, want %+v", in, want)
	}
	if s := in.String(); s != "quantfit v0.3.0, revision abc123 (modified), go1.26.8" {
		t.Errorf("String: %q", s)
	}
	if s := FromBuildInfo(&debug.BuildInfo{GoVersion: "go1.26.8"}).String(); !strings.Contains(s, "(devel), revision unknown") {
		t.Errorf("no VCS information: %q", s)
	}
}

func TestRead(t *testing.T) {
	if in := Read(); in.Go == "" || in.Version == "" {
		t.Errorf("Read: %+v", in)
	}
}
